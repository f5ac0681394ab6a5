"""👍/👎 on the staff chat's answers (issue 18), with Gradio's Chatbot like/dislike buttons.

Each answer the chat gives is kept in the `FeedbackStore` (as for ``/api/ask``) under a
`chat_key`: a hash of the Gradio session and the message's index, so a like on that message
finds it again (in SQLite, so whichever worker gets the like event). A 👍 is stored at
once; a 👎 is stored at once too, then a panel under the chat asks, optionally, what was wrong
and which clause of the policy is the right one (the cited documents' clauses); sending it
stores the 👎 again with the note and clause (the latest rating of an answer counts).
Ratings count in the ``feedback`` rate-limit bucket, as for ``POST /api/feedback``.
"""

from __future__ import annotations

import hashlib
import logging

import gradio as gr

from assistant.feedback import FeedbackStore

from .holder import AssistantHolder
from .limits import RateLimiter

log = logging.getLogger(__name__)


def chat_key(request: gr.Request | None, index: int) -> str | None:
    """A key for the chat message at ``index`` of this request's Gradio session (a hash: the session id is not stored)."""
    session = getattr(request, "session_hash", None)
    if not session:
        return None
    return hashlib.sha256(f"{session}:{index}".encode()).hexdigest()[:32]


def clause_choices(holder: AssistantHolder, school: str, citations: list[str]) -> list[tuple[str, str]]:
    """(label, clause id) for the picker: the cited clauses first, then the rest of the cited documents' clauses."""
    clauses = holder.get().clauses(school)
    by_id = {c.clause_id: c for c in clauses}
    documents = {by_id[c].document for c in citations if c in by_id}
    ordered = [by_id[c] for c in citations if c in by_id] + [c for c in clauses if c.document in documents and c.clause_id not in citations]
    return [(f"{c.document_title}: {c.text[:110]}", c.clause_id) for c in ordered]


def attach_feedback(chatbot: gr.Chatbot, holder: AssistantHolder, store: FeedbackStore | None, limiter: RateLimiter | None = None) -> None:
    """Wire the chatbot's like/dislike event and add the 👎 panel (call inside the chat's ``gr.Blocks``, under the chatbot)."""
    with gr.Group(visible=False, elem_id="pa-feedback") as panel:
        note = gr.Textbox(label="What was wrong? (optional — please leave out names)", max_length=1000, lines=2, elem_id="pa-feedback-note")
        clause = gr.Dropdown(label="The right part of the policy is… (optional)", choices=[], value=None, elem_id="pa-feedback-clause")
        send = gr.Button("Send feedback", size="sm", elem_id="pa-feedback-send")
    status = gr.Markdown("", elem_id="pa-feedback-status")
    rated = gr.State(None)

    def _limited(request: gr.Request | None) -> bool:
        if limiter is None or not limiter.enabled:
            return False
        client = getattr(getattr(request, "client", None), "host", None) or "unknown"
        return limiter.hit("feedback", client) is not None

    def on_like(data: gr.LikeData, request: gr.Request):
        """Store a 👍 or 👎 on the answer at ``data.index``; a 👎 opens the note and clause panel."""
        index = data.index if isinstance(data.index, int) else data.index[0]
        answer_id = store.answer_id_for_chat(chat_key(request, index)) if store is not None else None
        hidden = (gr.Group(visible=False), gr.Dropdown(), gr.Textbox())
        if store is None or not answer_id:
            return *hidden, None, "This answer cannot be rated."
        if _limited(request):
            return *hidden, None, "Too many ratings from your connection: please try again in a minute."
        rating = "up" if data.liked is True else "down"
        try:
            row = store.add_feedback(answer_id, rating)
        except KeyError:
            return *hidden, None, "This answer is too old to rate."
        if rating == "up":
            return *hidden, None, "Thank you for your feedback."
        choices = clause_choices(holder, row.school, row.citations)
        return (
            gr.Group(visible=True),
            gr.Dropdown(choices=choices, value=None),
            gr.Textbox(value=""),
            answer_id,
            "Thank you. If you can, say what was wrong and which part of the policy is right.",
        )

    def on_send(answer_id: str | None, text: str, clause_id: str | None, request: gr.Request):
        """Store the 👎 again with the note and the chosen clause."""
        if store is None or not answer_id:
            return gr.Group(visible=False), "", None
        if _limited(request):
            return gr.Group(visible=True), "Too many ratings from your connection: please try again in a minute.", answer_id
        try:
            store.add_feedback(answer_id, "down", (text or "").strip() or None, clause_id or None)
        except KeyError:
            return gr.Group(visible=False), "This answer is too old to rate.", None
        return gr.Group(visible=False), "Thank you — the school will look at this answer.", None

    chatbot.like(on_like, None, [panel, clause, note, rated, status], api_visibility="private")
    send.click(on_send, [rated, note, clause], [panel, status, rated], api_visibility="private")
