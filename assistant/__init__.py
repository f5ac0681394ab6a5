"""Policy Assistant: cited answers to staff and parent questions from a school's own policies.

from assistant import Assistant
bot = Assistant.load()
bot.ask("Can I post sports day videos?", school="glais", audience="parent")
"""

from . import config as _config  # noqa: F401  (sets offline/telemetry environment first)
from .assistant import Assistant, DocumentInfo, SchoolInfo
from .errors import CorpusError, IndexNotFoundError, UnknownSchoolError
from .types import AUDIENCES, VERDICTS, Answer, Citation, Clause

__all__ = [
    "AUDIENCES",
    "VERDICTS",
    "Answer",
    "Assistant",
    "Citation",
    "Clause",
    "CorpusError",
    "DocumentInfo",
    "IndexNotFoundError",
    "SchoolInfo",
    "UnknownSchoolError",
]
