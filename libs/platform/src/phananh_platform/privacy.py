"""Citizens' contacts on shared topics: sealed by intake, opened only by notify, forgettable.

A contact (phone, email, name, the sender's id on its channel) never travels in clear.
Intake seals each contact it keeps under a **key of its own** (Fernet: AES-128-CBC +
HMAC-SHA256, from ``cryptography``), and files that key under the citizen's pseudonym on
the compacted topic ``pakn.contact.keys.v1``, wrapped under the *contact master keys*
(``PHANANH_CONTACT_KEYS``) that only intake and notify hold. The sealed contact, the text
``ck1.<key id>.<token>``, travels on topics and stays in the audit trail and in notify's
store; the key lives only on that topic and in notify's key store.

Forgetting a citizen (``phananh forget``) destroys their keys: every copy of their contact
becomes noise, everywhere, while the trail that holds the copies still verifies
(crypto-shredding). Everyone else sees the sealed contact and a *pseudonym*: a keyed hash
of the contact that is the same for the same person across channels and reports (for
figures and duplicate detection), and reveals nothing.

Key rotation: :class:`ContactSealer` accepts several master keys; it wraps with the first
and unwraps with any (``MultiFernet``). Contacts sealed before keys were per contact (a
bare Fernet token under a master key) still open, and cannot be forgotten one by one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

EMERGENCY_NUMBERS = frozenset({"113", "114", "115"})
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(\.[\w-]+)+", re.UNICODE)
_PHONE_MASK = "[số điện thoại]"
_EMAIL_MASK = "[email]"
KEYED_PREFIX = "ck1"
"""How a contact sealed under its own key begins: ``ck1.<key id>.<Fernet token>``."""
_KEY_ID = re.compile(r"ck-[0-9a-f]{32}")


@dataclass(frozen=True)
class SealedContact:
    """What a sealed contact holds, once opened."""

    channel: str
    phone: str | None = None
    """E.164, e.g. '+84912345678'."""
    email: str | None = None
    name: str | None = None
    channel_user_ref: str | None = None
    """The sender's id on its channel (Zalo user id, Facebook PSID), to answer there."""


@dataclass(frozen=True)
class ContactKey:
    """The key one contact was sealed under, wrapped under the master keys."""

    key_id: str
    wrapped_key: str


class ContactKeyUnknown(ValueError):
    """The contact was sealed under a key the caller does not have (not yet, or destroyed)."""


def key_id_of(ciphertext: str) -> str | None:
    """The id of the key a sealed contact needs; None for one sealed under a master key."""
    prefix, _, rest = ciphertext.partition(".")
    if prefix != KEYED_PREFIX:
        return None
    key_id, dot, _ = rest.partition(".")
    if not dot or not _KEY_ID.fullmatch(key_id):
        raise ValueError("not a sealed contact: malformed key id")
    return key_id


class ContactSealer:
    """Seals contacts under keys of their own and opens them; a wrong key fails loudly."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one contact key is needed")
        self._master = MultiFernet([Fernet(key.encode()) for key in keys])

    def seal(self, contact: SealedContact) -> tuple[str, ContactKey]:
        """The sealed contact and the new key it needs (to file on the contact-keys topic)."""
        key = Fernet.generate_key()
        key_id = f"ck-{secrets.token_hex(16)}"
        payload = json.dumps(asdict(contact), ensure_ascii=False, sort_keys=True)
        token = Fernet(key).encrypt(payload.encode()).decode()
        wrapped = self._master.encrypt(key).decode()
        return f"{KEYED_PREFIX}.{key_id}.{token}", ContactKey(key_id, wrapped)

    def open(self, ciphertext: str, key: ContactKey | None = None) -> SealedContact:
        """The contact; ``key``: the one it was sealed under (:func:`key_id_of` names it).

        ValueError when it cannot be opened: :class:`ContactKeyUnknown` when its key is not
        given, a plain ValueError for a wrong key or damaged text.
        """
        key_id = key_id_of(ciphertext)
        try:
            if key_id is None:
                payload = self._master.decrypt(ciphertext.encode())
            elif key is None or key.key_id != key_id:
                raise ContactKeyUnknown(f"the key {key_id} of this contact is not known")
            else:
                fernet = Fernet(self._master.decrypt(key.wrapped_key.encode()))
                payload = fernet.decrypt(ciphertext.split(".", 2)[2].encode())
        except InvalidToken:
            raise ValueError("the contact cannot be opened with the configured keys") from None
        return SealedContact(**json.loads(payload))


def normalize_phone(raw: str, region: str = "VN") -> str | None:
    """E.164 form of a Vietnamese (or international) number, or None if it is not one."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str | None:
    """Trimmed address with a lowercase domain, or None if it is not an address."""
    candidate = raw.strip().strip("<>").strip()
    if _EMAIL.fullmatch(candidate) is None:
        return None
    local, _, domain = candidate.rpartition("@")
    return f"{local}@{domain.lower()}"


def citizen_identity(
    *,
    phone: str | None = None,
    email: str | None = None,
    channel: str | None = None,
    channel_user_ref: str | None = None,
) -> str | None:
    """The string a citizen's pseudonym is derived from: the phone (E.164), else the email
    (lowercase), else ``<channel>:<user id on the channel>``; None with none of them.

    The same phone number gives the same pseudonym on every channel. Give the values
    normalized (:func:`normalize_phone`, :func:`normalize_email`).
    """
    if phone:
        return f"phone:{phone}"
    if email:
        return f"email:{email.lower()}"
    if channel and channel_user_ref:
        return f"{channel}:{channel_user_ref}"
    return None


def pseudonym(key: bytes, identity: str) -> str:
    """A stable, non-reversible name for a person: ``ctz-`` + 24 hex characters."""
    digest = hmac.new(key, identity.encode(), hashlib.sha256).hexdigest()
    return f"ctz-{digest[:24]}"


def new_contact_key() -> str:
    """A fresh Fernet key (url-safe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode()


def mask_contacts(text: str) -> str:
    """``text`` with phone numbers and email addresses replaced by placeholders.

    Emergency numbers (113, 114, 115) stay: they are advice, not personal data.
    """
    text = _EMAIL.sub(_EMAIL_MASK, text)
    pieces: list[str] = []
    last = 0
    matches = phonenumbers.PhoneNumberMatcher(text, "VN", leniency=phonenumbers.Leniency.POSSIBLE)
    for match in matches:
        if match.raw_string.strip() in EMERGENCY_NUMBERS:
            continue
        pieces.append(text[last : match.start])
        pieces.append(_PHONE_MASK)
        last = match.end
    pieces.append(text[last:])
    return "".join(pieces)


# ---------------------------------------------------------------------------- names

_NAME_MASK = "[họ tên]"
SURNAMES = frozenset(
    [
        "Nguyễn",
        "Trần",
        "Lê",
        "Phạm",
        "Hoàng",
        "Huỳnh",
        "Phan",
        "Vũ",
        "Võ",
        "Đặng",
        "Bùi",
        "Đỗ",
        "Hồ",
        "Ngô",
        "Dương",
        "Lý",
        "Đinh",
        "Đoàn",
        "Trịnh",
        "Lâm",
        "Mai",
        "Trương",
        "Tạ",
        "Hà",
        "Cao",
        "Lương",
        "Văn",
        "Tô",
        "Chu",
        "Đào",
        "Quách",
        "Thân",
        "Triệu",
        "Kiều",
        "Lưu",
        "Mạc",
        "Tăng",
        "Ninh",
        "Khổng",
        "Lục",
        "Nghiêm",
        "Vi",
        "Hứa",
        "Lã",
        "Doãn",
        "Phùng",
        "La",
        "Thái",
        "Đàm",
        "Vương",
        "Nông",
        "Hầu",
        "Lò",
        "Cầm",
        "Quàng",
        "Lường",
        "Tòng",
        "Vì",
        "Điêu",
        "Sầm",
        "Mùa",
        "Giàng",
        "Thào",
        "Sùng",
        "Vàng",
        "Lầu",
        "Hờ",
        "Mào",
        "Khà",
        "Lộc",
        "Cà",
        "Hoàng",
        "Bạc",
        "Xa",
        "Tày",
        "Lù",
        "Chảo",
        "Tẩn",
        "Lự",
        "Mè",
        "Ly",
        "Lỳ",
        "Lìa",
        "Pờ",
        "Chang",
        "Hạng",
        "Cứ",
    ]
)
"""Vietnamese family names, Kinh and the peoples of the north-west (Thái, H'Mông, Mường,
Dao …): Sơn La's reporters and the people they write about."""

_WORD = re.compile(r"[^\W\d_]+")
_PLACE_WORDS = (
    "đường|phố|phường|xã|bản|thôn|xóm|làng|tổ|tiểu khu|khu|khối|ngõ|ngách|hẻm|kiệt|"
    "quốc lộ|tỉnh lộ|ngã ba|ngã tư|cầu|dốc|trường|chợ|công viên|quảng trường|bệnh viện|"
    "trạm|nhà văn hóa|thị trấn|huyện|tỉnh|thành phố|tp\\.?|sân|bến|cổng|đại lộ|phòng|"
    "trung tâm|ubnd|ủy ban|công ty|cửa hàng|khách sạn|nhà hàng|quán|số"
)
_AFTER_PLACE_WORD = re.compile(rf"(?:^|[^\w])(?:{_PLACE_WORDS})\s*$", re.IGNORECASE)
_CUE = re.compile(
    r"(?<!\w)(?:tên tôi là|tôi tên là|tôi là|tôi tên|em là|tên là|họ và tên|họ tên|người gửi|"
    r"người phản ánh|hộ ông|hộ bà|gia đình ông|gia đình bà|nhà ông|nhà bà|ông|bà|anh|chị|"
    r"cô|chú|bác|cháu|cụ|em)\s*:?\s*$",
    re.IGNORECASE,
)


_TITLES = frozenset({"ông", "bà", "anh", "chị", "cô", "chú", "bác", "cháu", "cụ", "em"})
"""Words that introduce a person, capitalised at the start of a sentence."""


def mask_names(text: str) -> str:
    """``text`` with people's names replaced by ``[họ tên]``.

    A name is a run of capitalised words, kept to four: right after a word that
    introduces a person ("tôi là", "ông", "chị", "hộ bà", "Người gửi:" …) a run of any
    length up to four is a name ("ông Lò Văn Pấng", "chị Hoa"); elsewhere a run of three or
    four that starts with a family name of :data:`SURNAMES` is ("Nguyễn Thị Lan"). A run
    right after a place word stays: "đường Lò Văn Giá", "phường Tô Hiệu" and "trường Chu
    Văn An" are a street, a ward and a school, and the report needs them.
    """
    words = list(_WORD.finditer(text))
    pieces: list[str] = []
    last = 0
    index = 0
    while index < len(words):
        run = [words[index]]
        while (
            run[-1].group()[0].isupper()
            and len(run) <= 4
            and index + len(run) < len(words)
            and text[run[-1].end() : words[index + len(run)].start()].isspace()
        ):
            run.append(words[index + len(run)])
        run = _leading_capitalised(run)[:4]
        if not run:
            index += 1
            continue
        if len(run) > 1 and run[0].group().lower() in _TITLES:  # "Ông Lò Văn Minh"
            index += 1
            run = run[1:]
        before = text[max(0, run[0].start() - 24) : run[0].start()]  # the words just before
        cued = _CUE.search(before) is not None
        named = len(run) >= 3 and run[0].group() in SURNAMES
        if (cued or named) and not _AFTER_PLACE_WORD.search(before):
            pieces.append(text[last : run[0].start()])
            pieces.append(_NAME_MASK)
            last = run[-1].end()
        index += len(run)
    pieces.append(text[last:])
    return "".join(pieces)


def _leading_capitalised(run: list[re.Match[str]]) -> list[re.Match[str]]:
    kept = []
    for word in run:
        if not word.group()[0].isupper():
            break
        kept.append(word)
    return kept


def mask_personal_data(text: str) -> str:
    """Contacts and names masked (:func:`mask_contacts`, :func:`mask_names`): what a
    citizen's free text may show agencies and the audit trail."""
    return mask_names(mask_contacts(text))
