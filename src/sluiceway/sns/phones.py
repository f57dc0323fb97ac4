"""Phone numbers and SMS texts, checked as SNS checks them (shared by the local engine and
the AWS adapter)."""

from __future__ import annotations

from typing import Any

from sluiceway.core.errors import ValidationError
from sluiceway.core.validation import E164

MAX_CHARACTERS = 1600  # SNS refuses longer texts
SMS_TYPES = ("Transactional", "Promotional")
SENDER_ID = "AWS.SNS.SMS.SenderID"
SMS_TYPE = "AWS.SNS.SMS.SMSType"

# GSM 03.38: the basic set costs one septet, the extension set two; anything else sends the
# whole text as UCS-2.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = set("^{}\\[~]|€\f")


def parts(text: str) -> int:
    """How many SMS the text takes: 160 GSM-7 characters (153 per part when split), or 70
    UCS-2 code units (67 per part) if any character is outside GSM-7."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text):
        units = sum(2 if c in _GSM_EXTENSION else 1 for c in text)
        single, each = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, each = 70, 67
    return 1 if units <= single else -(-units // each)


def check_phone(phone: Any) -> str:
    if not isinstance(phone, str) or not E164.fullmatch(phone):
        raise ValidationError(
            f"{phone!r} is not a phone number in E.164 form (e.g. '+919876543210')",
            code="InvalidParameter",
        )
    return phone


def check_text(text: Any) -> str:
    if not isinstance(text, str) or not text:
        raise ValidationError("an SMS needs a non-empty text", code="InvalidParameter")
    if len(text) > MAX_CHARACTERS:
        raise ValidationError(
            f"an SMS is at most {MAX_CHARACTERS} characters; this one is {len(text)}",
            code="InvalidParameter",
        )
    return text


def sms_attributes(sender_id: str | None, sms_type: str | None) -> dict[str, dict[str, str]] | None:
    """The reserved message attributes SNS reads for an SMS."""
    attributes: dict[str, dict[str, str]] = {}
    if sender_id is not None:
        if not isinstance(sender_id, str) or not (
            1 <= len(sender_id) <= 11 and sender_id.isalnum() and not sender_id.isdigit()
        ):
            raise ValidationError(
                "a sender ID is 1-11 letters and digits, not all digits", code="InvalidParameter"
            )
        attributes[SENDER_ID] = {"DataType": "String", "StringValue": sender_id}
    if sms_type is not None:
        if sms_type not in SMS_TYPES:
            raise ValidationError(
                f"SMS type must be one of {', '.join(SMS_TYPES)}", code="InvalidParameter"
            )
        attributes[SMS_TYPE] = {"DataType": "String", "StringValue": sms_type}
    return attributes or None
