"""The Chinese VAT invoice (发票, fapiao) a claim rests on: its types, its QR code, its numbers as people type them and
the vendor's unified social credit code. Pure: no database.

A printed or electronic fapiao carries a QR code whose text is comma-separated fields: version, type, invoice code,
invoice number, amount before tax, date (YYYYMMDD), check code and a trailing checksum. A fully digital invoice
(全电发票, 数电票) leaves the code empty and has a 20-digit number. The same invoice typed by two dealers comes out as
`No.12345678`, `1234 5678` or in full-width digits (U+FF10 to U+FF19); it is compared by its digits only.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from portal.request_locale import lazy_gettext as _l
from portal.types import register_labels


class InvoiceType(enum.StrEnum):
    SPECIAL = "special"  # 增值税专用发票: the buyer deducts its VAT
    ORDINARY = "ordinary"  # 增值税普通发票, paper or electronic
    DIGITAL = "digital"  # 全电发票 / 数电票: no invoice code, a 20-digit number
    OTHER = "other"  # a receipt from abroad or anything else: its number is compared as written


register_labels(
    {
        InvoiceType.SPECIAL: _l("VAT special invoice (专票)"),
        InvoiceType.ORDINARY: _l("VAT ordinary invoice (普票)"),
        InvoiceType.DIGITAL: _l("Fully digital e-invoice (全电发票)"),
        InvoiceType.OTHER: _l("Other or foreign invoice"),
    }
)

# The type field of the QR code (国家税务总局 codes): 01 and 08 are special, 31 and 32 are fully digital.
QR_TYPES = {
    "01": InvoiceType.SPECIAL,
    "08": InvoiceType.SPECIAL,
    "04": InvoiceType.ORDINARY,
    "10": InvoiceType.ORDINARY,
    "11": InvoiceType.ORDINARY,
    "14": InvoiceType.ORDINARY,
    "31": InvoiceType.DIGITAL,
    "32": InvoiceType.DIGITAL,
}
DIGITAL_NUMBER_DIGITS = 20
_NUMBER_PREFIX = re.compile(r"^(NO|N°|#)(?=[.:\s\d])[.:\s]*", re.IGNORECASE)  # after NFKC (full-width too)


def folded(text: str) -> str:
    """Full-width digits, letters and punctuation as their ASCII forms (NFKC), upper case, no surrounding space."""
    return unicodedata.normalize("NFKC", text).strip().upper()


def digits_only(text: str) -> str:
    return "".join(character for character in folded(text) if character.isascii() and character.isdigit())


def normalised_number(text: str, invoice_type: InvoiceType) -> str:
    """The invoice number as compared: a Chinese invoice's digits only; another invoice's letters and digits without
    a leading "No." (so `No. INV-42` and `inv 42` are the same invoice)."""
    if invoice_type is not InvoiceType.OTHER:
        return digits_only(text)
    return "".join(character for character in _NUMBER_PREFIX.sub("", folded(text)) if character.isalnum())


def normalised_code(text: str) -> str:
    return digits_only(text)


@dataclass(frozen=True)
class FapiaoQr:
    """What an invoice's QR code says."""

    invoice_type: InvoiceType
    code: str
    number: str
    amount_before_tax: Decimal | None
    issued_on: date | None
    check_code: str


def read_fapiao_qr(text: str) -> FapiaoQr | None:
    """The fields of a fapiao's QR text; None for a code that is not an invoice's (a shop's URL, a payment code)."""
    fields = [field.strip() for field in text.strip().split(",")]
    if len(fields) < 7 or not fields[0].isdigit() or fields[1] not in QR_TYPES:
        return None
    code, number = normalised_code(fields[2]), digits_only(fields[3])
    invoice_type = QR_TYPES[fields[1]]
    if not number or (invoice_type is InvoiceType.DIGITAL and len(number) != DIGITAL_NUMBER_DIGITS):
        return None
    if not code and len(number) == DIGITAL_NUMBER_DIGITS:
        invoice_type = InvoiceType.DIGITAL
    try:
        amount = Decimal(fields[4]) if fields[4] else None
    except InvalidOperation:
        amount = None
    if amount is not None and (not amount.is_finite() or amount < 0):
        amount = None
    try:
        day = fields[5]
        issued_on = date(int(day[:4]), int(day[4:6]), int(day[6:8])) if len(day) == 8 and day.isdigit() else None
    except ValueError:
        issued_on = None
    return FapiaoQr(invoice_type, code, number, amount, issued_on, fields[6])


# --- The unified social credit code (统一社会信用代码, GB 32100-2015) -----------------------------------------

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_character(first_17: str) -> str | None:
    """The 18th character the standard computes from the first 17; None if one of them is not in its alphabet."""
    total = 0
    for character, weight in zip(first_17, CREDIT_CODE_WEIGHTS, strict=True):
        value = CREDIT_CODE_ALPHABET.find(character)
        if value < 0:
            return None
        total += value * weight
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def valid_credit_code(text: str) -> bool:
    code = folded(text)
    return len(code) == 18 and credit_code_check_character(code[:17]) == code[17]


def vendor_key(tax_id: str, name: str) -> str:
    """The vendor as compared between one dealer's claims: its tax id when given, else its name without spaces,
    punctuation or case (`ABC Printing Co., Ltd.` and `abc printing co ltd`)."""
    if folded(tax_id):
        return "id:" + "".join(character for character in folded(tax_id) if character.isalnum())
    name_key = "".join(character for character in folded(name) if character.isalnum())
    return ("name:" + name_key)[:200] if name_key else ""
