"""The staff chat (Gradio, mounted at ``/``): pick a school and a role, ask, follow up.

Each answer shows a verdict badge, the short answer and the cited clauses as quoted
blocks (school, document, section, "open in policy" link) — see `render.answer_html`.
The chat keeps the questions asked so far and sends them as ``history``, so "what about
videos?" is read in the light of the question before it. Changing school starts a new
chat. ``/?school=<id>&role=<role>`` preselects both (a link a school can give its staff).
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing may phone home; set before gradio loads

import gradio as gr

from assistant import AUDIENCES
from assistant.question_log import QuestionLog

from .holder import AssistantHolder
from .render import answer_html, error_html, literal_markdown

log = logging.getLogger(__name__)

#: How each role reads in the role selector.
ROLE_LABELS: dict[str, str] = {
    "staff": "Staff",
    "parent": "Parent / carer",
    "pupil": "Pupil",
    "visitor": "Visitor",
    "governor": "Governor",
}

#: Questions offered as buttons under the chat (they fit any school's ICT / social media policies).
EXAMPLE_QUESTIONS = (
    "Can I post photos of pupils on my personal Facebook?",
    "Can staff add parents as friends on social media?",
    "Can I use my own phone to take pictures of the children?",
    "What should I do if I see an inappropriate post about a pupil?",
    "Can visitors use their mobile phones in school?",
)

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
    )


def _school_choices(holder: AssistantHolder) -> list[tuple[str, str]]:
    return [(info.name, info.school) for info in holder.get().schools()]


def build_chat(holder: AssistantHolder, question_log: QuestionLog | None = None) -> gr.Blocks:
    """The staff chat as a Gradio `Blocks` (mount it with `gr.mount_gradio_app`; see `server.create_app`).

    Args:
        holder: the served assistant; every question goes to ``holder.get()``.
        question_log: where answered questions are written, redacted, as for ``/api/ask``,
            so the policy-gap report covers staff questions too (None: not logged).
    """
    choices = _school_choices(holder)
    role_choices = [(ROLE_LABELS.get(a, a.title()), a) for a in AUDIENCES]

    with gr.Blocks(title="Policy Assistant — staff chat", analytics_enabled=False) as demo:
        gr.HTML(
            '<header class="pa-chat-header"><h1>Policy Assistant</h1>'
            "<p>Ask about your school's policies. Every answer quotes the clause it rests on.</p></header>",
            elem_id="pa-header",
        )
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
            feedback_options=None,
            sanitize_html=True,
            render_markdown=True,
            layout="bubble",
            placeholder="Ask a question below, or pick an example. Follow-up questions use the conversation so far.",
        )
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
        examples = gr.Examples(
            examples=[[q] for q in EXAMPLE_QUESTIONS], inputs=[question], label="Example questions", elem_id="pa-examples"
        )
        with gr.Row(elem_id="pa-footer"):
            new_chat = gr.Button("New chat", variant="secondary", size="sm", elem_id="pa-new-chat", scale=0)
            gr.HTML('<p class="pa-footnote">HTTP API: <a href="/docs" target="_blank" rel="noopener">/docs</a></p>')
        transcript = gr.State([])
        history = gr.State([])

        def respond(text: str, school_id: str, audience: str, messages: list[dict], asked: list[str]):
            """Answer ``text``; returns (cleared textbox, transcript, chat display, questions asked so far)."""
            if not text or not text.strip():
                return text, messages, messages, asked
            messages = [*messages, {"role": "user", "content": literal_markdown(text)}]
            assistant = holder.get()
            try:
                answer = assistant.ask(text, school_id, audience, asked)
                reply = answer_html(answer, assistant.school_name(school_id))
            except ValueError as exc:
                reply = error_html(str(exc))
            else:
                if question_log is not None:
                    try:
                        top = answer.citations[0].clause_id if answer.citations else None
                        question_log.record(school_id, text, answer.verdict, audience, top, follow_up=bool(asked))
                    except Exception as exc:  # the log must never cost anyone their answer
                        log.error("could not log a chat question: %s", exc)
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
            return gr.Dropdown(choices=fresh, value=school_value), gr.Dropdown(value=role_value)

        inputs = [question, school, role, transcript, history]
        outputs = [question, transcript, chatbot, history]
        for trigger in (ask.click, question.submit):
            trigger(respond, inputs, outputs, api_visibility="private").then(None, js=SCROLL_TO_LATEST)
        examples.load_input_event.then(respond, inputs, outputs, api_visibility="private").then(None, js=SCROLL_TO_LATEST)
        school.change(start_over, None, [transcript, history, chatbot], api_visibility="private")
        new_chat.click(start_over, None, [transcript, history, chatbot], api_visibility="private")
        demo.load(preselect, None, [school, role], api_visibility="private")
    return demo
