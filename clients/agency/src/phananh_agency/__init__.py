"""Reference agency client: ``phananh-agency --agency ID COMMAND``.

An agency (a ward's People's Committee, a market board …) receives its reports on its own
inbox topic, ``pakn.inbox.<agency-id>.v1``, and answers on its own updates topic,
``pakn.updates.<agency-id>.v1``.
This package is all an agency needs to do that, as a command for officers
(``phananh_agency.cli``) and as a small library (``AgencyClient``) for the agency's own
system; copy it freely. It shares nothing with the platform but the contracts
(``phananh_contracts``) and needs aiokafka, pydantic and pydantic-settings besides;
its web inbox for officers (``phananh_agency.web``, ``phananh-agency --agency ID web``)
needs starlette, jinja2, itsdangerous and uvicorn too.

The inbox is read from the beginning up to its end at the moment of reading, without a
consumer group, and folded by report id (latest event wins: a task assigned again after
it was withdrawn is open again). A report is named by its tracking code or its id; an
update the contract forbids, or about a report not in the inbox, is refused here and
nothing is sent.

Rooms: ``domain`` (the fold and the checks, no I/O), ``client`` (Kafka), ``text`` (what
officers and machines read), ``settings``, ``errors``, ``cli`` (the command), ``web``
(the same inbox and updates as web pages).
"""

from phananh_agency.client import AgencyClient
from phananh_agency.domain import (
    EXCERPT_CHARS,
    KIND_LABELS,
    REFUSAL_LABELS,
    CitizenAnswer,
    ClosedTask,
    Inbox,
    RefusedUpdate,
    Task,
    fold_inbox,
    local_time,
    new_update,
    target_of,
)
from phananh_agency.errors import (
    AgencyClientError,
    InboxNotFound,
    KafkaUnavailable,
    NotInInbox,
    UpdateNotAllowed,
)
from phananh_agency.settings import ClientSettings, KafkaSettings
from phananh_agency.text import inbox_json, render_inbox

__all__ = [
    "EXCERPT_CHARS",
    "KIND_LABELS",
    "REFUSAL_LABELS",
    "AgencyClient",
    "AgencyClientError",
    "CitizenAnswer",
    "ClientSettings",
    "ClosedTask",
    "Inbox",
    "InboxNotFound",
    "KafkaSettings",
    "KafkaUnavailable",
    "NotInInbox",
    "RefusedUpdate",
    "Task",
    "UpdateNotAllowed",
    "fold_inbox",
    "inbox_json",
    "local_time",
    "new_update",
    "render_inbox",
    "target_of",
]
