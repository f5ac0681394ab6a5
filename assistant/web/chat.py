"""The staff chat (Gradio, mounted at ``/``): pick a school and a role, ask, follow up.

Each answer shows a verdict badge, the short answer and the cited clauses as quoted
blocks (school, document, section, "open in policy" link) — see `render.answer_html`.
The chat keeps the questions asked so far and sends them as ``history``, so "what about
videos?" is read in the light of the question before it. Changing school starts a new
chat. ``/?school=<id>&role=<role>`` preselects both (a link a school can give its staff).

Only signed-in staff reach it (`assistant.web.staff_auth`). Each question is cleaned of
control and format characters (`assistant.redaction.clean_text`) before it is answered or
logged, and counts against the same per-client rate limit as ``/api/ask``.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing may phone home; set before gradio loads

import gradio as gr

from assistant import AUDIENCES
from assistant.examples import shared_example_book
from assistant.feedback import FeedbackStore
from assistant.question_log import QuestionLog
from assistant.redaction import clean_text

from .chat_feedback import attach_feedback, chat_key
from .holder import AssistantHolder
from .limits import RateLimiter
from .pages import render_page
from .recording import record_answer
from .render import answer_html, error_html, literal_markdown

#: How each role reads in the role selector.
ROLE_LABELS: dict[str, str] = {
    "staff": "Staff",
    "parent": "Parent / carer",
    "pupil": "Pupil",
    "visitor": "Visitor",
    "governor": "Governor",
}

#: After an answer: bring the latest question to the top of the chat, so the verdict is in view
#: (autoscrolling to the bottom would show the end of the last quoted clause instead).
SCROLL_TO_LATEST = """() => { setTimeout(() => {
  const rows = document.querySelectorAll('#pa-chat .message-row.user-row');
  if (!rows.length) return;
  const row = rows[rows.length - 1];
  const log = row.closest('[role=log]');
  if (log) log.scrollTop += row.getBoundingClientRect().top - log.getBoundingClientRect().top - 8;
  row.scrollIntoView({block: 'nearest'});
}, 60); }"""

#: On page load (issue 18): Gradio labels each message with its raw content ("bot's message: <div class=…"),
#: which a screen reader would read out as markup; label each with its text instead, now and after every update.
PLAIN_ARIA_LABELS = """() => {
  const fix = () => document.querySelectorAll('#pa-chat [aria-label*="<"], #pa-chat [data-pa-who]').forEach(el => {
    if (!el.dataset.paWho) el.dataset.paWho = el.getAttribute('aria-label').startsWith('user') ? 'Your question' : 'Answer';
    const text = (el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 300);
    const label = text ? el.dataset.paWho + ': ' + text : el.dataset.paWho;
    if (el.getAttribute('aria-label') !== label) el.setAttribute('aria-label', label);  // only on a change: no loop
  });
  fix();
  const chat = document.getElementById('pa-chat');
  if (chat) new MutationObserver(fix).observe(chat, {subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['aria-label']});
}"""

#: System fonts only: Gradio's default theme would fetch web fonts from a third party.
_SANS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def chat_theme() -> gr.themes.Base:
    """The chat's Gradio theme: Gradio's Soft theme in blue, system fonts, primary buttons dark enough for white text."""
    return gr.themes.Soft(primary_hue="blue", font=_SANS, font_mono=_MONO).set(
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_text_color="white",
        button_primary_background_fill_dark="*primary_600",
        button_primary_background_fill_hover_dark="*primary_700",
        # issue 18: labels ("School", "Asking as", "Your question", "Example questions") at contrast ≥ 4.5:1
        block_label_text_color="*primary_800",
        block_title_text_color="*primary_800",
        block_info_text_color="*neutral_700",
    )


def _school_choices(holder: AssistantHolder) -> list[tuple[str, str]]:
    return [(info.name, info.school) for info in holder.get().schools()]


def _examples(holder: AssistantHolder, school_id: str | None) -> list[list[str]]:
    """The example questions ``school_id`` offers in the chat, as Gradio dataset samples.

    They are its ``school.toml`` ``[[examples]]`` (`assistant.examples`); none for an unknown school.
    """
    schools = holder.get().manifest.schools
    if school_id not in schools:
        return []
    return [[q] for q in shared_example_book().examples(schools[school_id], "chat")]


def build_chat(
    holder: AssistantHolder,
    question_log: QuestionLog | None = None,
    limiter: RateLimiter | None = None,
    feedback: FeedbackStore | None = None,
) -> gr.Blocks:
    """The staff chat as a Gradio `Blocks` (mount it with `gr.mount_gradio_app`; see `server.create_app`).

    Args:
        holder: the served assistant; every question goes to ``holder.get()``.
        question_log: where answered questions are written, redacted, as for ``/api/ask``,
            so the policy-gap report covers staff questions too (None: not logged).
        limiter: the per-client rate limit of ``/api/ask``; each question counts in its
            ``questions`` bucket, and one over the limit is answered with a message saying when
            to try again, neither answered nor logged (None: no limit).
        feedback: where answers are kept for 👍/👎 (issue 18, `chat_feedback`; None: answers cannot be rated).
    """
    choices = _school_choices(holder)
    role_choices = [(ROLE_LABELS.get(a, a.title()), a) for a in AUDIENCES]

    with gr.Blocks(title="Policy Assistant — staff chat", analytics_enabled=False) as demo:
        gr.HTML(
            '<header class="pa-chat-header"><h1>Policy Assistant</h1>'
            "<p>Ask about your school's policies. Every answer quotes the clause it rests on.</p></header>",
            elem_id="pa-header",
        )
        school_notice = gr.HTML("", visible=False, elem_id="pa-school-notice")  # issue 18: an unknown ?school=
        with gr.Row(equal_height=True, elem_id="pa-selectors"):
            school = gr.Dropdown(
                choices=choices, value=choices[0][1] if choices else None, label="School", elem_id="pa-school", min_width=180, scale=2
            )
            role = gr.Dropdown(choices=role_choices, value="staff", label="Asking as", elem_id="pa-role", min_width=140, scale=1)
        chatbot = gr.Chatbot(
            label="Conversation",
            show_label=False,
            autoscroll=False,  # SCROLL_TO_LATEST shows the new answer from its top instead
            elem_id="pa-chat",
            height="60vh",
            min_height=320,
            latex_delimiters=[],
            buttons=[],
            feedback_options=("Like", "Dislike"),  # issue 18: 👍/👎 (chat_feedback)
            sanitize_html=True,
            render_markdown=True,
            layout="bubble",
            placeholder="Ask a question below, or pick an example. Follow-up questions use the conversation so far.",
        )
        attach_feedback(chatbot, holder, feedback, limiter)  # issue 18: 👍/👎 and the 👎 note and clause panel
        with gr.Row(equal_height=True, elem_id="pa-ask-row"):
            question = gr.Textbox(
                label="Your question",
                placeholder="e.g. Can I post sports day videos?",
                lines=1,
                max_lines=4,
                max_length=1000,
                scale=5,
                min_width=200,
                elem_id="pa-question",
                autofocus=True,
            )
            ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="pa-ask")
        first_examples = _examples(holder, choices[0][1] if choices else None)
        examples = gr.Examples(
            examples=first_examples, inputs=[question], label="Example questions", elem_id="pa-examples", visible=bool(first_examples)
        )
        with gr.Row(elem_id="pa-footer"):
            new_chat = gr.Button("New chat", variant="secondary", size="sm", elem_id="pa-new-chat", scale=0)
            gr.HTML(
                '<p class="pa-footnote">HTTP API: <a href="/docs" target="_blank" rel="noopener">/docs</a>'
                ' · <a href="/staff/sign-out" id="pa-sign-out">Sign out</a></p>'
            )
        transcript = gr.State([])
        history = gr.State([])

        def respond(text: str, school_id: str, audience: str, messages: list[dict], asked: list[str], request: gr.Request):
            """Answer ``text``; returns (cleared textbox, transcript, chat display, questions asked so far)."""
            text = clean_text(text or "")
            if not text.strip():
                return text, messages, messages, asked
            messages = [*messages, {"role": "user", "content": literal_markdown(text)}]
            wait = _over_limit(limiter, request)
            if wait is not None:
                message = (
                    f"Too many questions from your connection (limit {limiter.spec.replace('/', ' per ')}). "
                    f"Please try again in {wait} second{'s' if wait != 1 else ''}."
                )
                messages = [*messages, {"role": "assistant", "content": error_html(message)}]
                return text, messages, messages, asked
            assistant = holder.get()
            try:
                answer = assistant.ask(text, school_id, audience, asked)
                reply = answer_html(answer, assistant.school_name(school_id))
            except ValueError as exc:
                reply = error_html(str(exc))
            else:
                # the reply's index in the chat: a like on that message finds the answer again (chat_feedback)
                record_answer(question_log, feedback, school_id, audience, text, answer, asked, chat_key(request, len(messages)))
                asked = [*asked, text]
            messages = [*messages, {"role": "assistant", "content": reply}]
            return "", messages, messages, asked

        def start_over():
            return [], [], []

        def preselect(request: gr.Request):
            """On page load: refresh the school list (an ingest may have added one) and apply ?school=&role=."""
            fresh = _school_choices(holder)
            ids = [school_id for _, school_id in fresh]
            params = dict(request.query_params) if request else {}
            wanted_school = params.get("school")
            wanted_role = params.get("role")
            school_value = wanted_school if wanted_school in ids else (ids[0] if ids else None)
            role_value = wanted_role if wanted_role in AUDIENCES else "staff"
            offered = _examples(holder, school_value)
            notice = (
                unknown_school_notice(wanted_school, dict((v, k) for k, v in fresh).get(school_value)) if wanted_school not in ids else ""
            )
            return (
                gr.Dropdown(choices=fresh, value=school_value),
                gr.Dropdown(value=role_value),
                gr.Dataset(samples=offered, visible=bool(offered)),
                gr.HTML(notice, visible=bool(notice)),
            )

        def school_examples(school_id: str):
            """The chosen school's own example questions (each school lists those its policy answers)."""
            offered = _examples(holder, school_id)
            return gr.Dataset(samples=offered, visible=bool(offered))

        inputs = [question, school, role, transcript, history]
        outputs = [question, transcript, chatbot, history]
        for trigger in (ask.click, question.submit):
            trigger(respond, inputs, outputs, api_visibility="private").then(None, js=SCROLL_TO_LATEST)
        examples.load_input_event.then(respond, inputs, outputs, api_visibility="private").then(None, js=SCROLL_TO_LATEST)
        school.change(start_over, None, [transcript, history, chatbot], api_visibility="private")
        school.change(school_examples, school, examples.dataset, api_visibility="private")
        new_chat.click(start_over, None, [transcript, history, chatbot], api_visibility="private")
        demo.load(preselect, None, [school, role, examples.dataset, school_notice], api_visibility="private")
        demo.load(None, js=PLAIN_ARIA_LABELS)
        school.input(lambda: gr.HTML("", visible=False), None, school_notice, api_visibility="private")
    return demo


def unknown_school_notice(wanted: str | None, chosen_name: str | None) -> str:
    """The notice shown when the link's ``?school=`` names no school here (issue 18).

    Args:
        wanted: the link's ``?school=`` (None: none asked for); the notice shows its first 100 characters.
        chosen_name: the name of the school selected instead, or None when none is.

    Returns:
        HTML (``templates/school_notice.html``, the id escaped): which id was unknown and which school
        was chosen instead; "" when no school was asked for.
    """
    if not wanted:
        return ""
    return render_page("school_notice.html", wanted=wanted, chosen_name=chosen_name)


def _over_limit(limiter: RateLimiter | None, request: gr.Request | None) -> int | None:
    """Count one question of the request's client in the ``questions`` bucket; None if allowed, else whole seconds to wait."""
    if limiter is None or not limiter.enabled:
        return None
    client = getattr(getattr(request, "client", None), "host", None) or "unknown"
    wait = limiter.hit("questions", client)
    return None if wait is None else math.ceil(wait)
