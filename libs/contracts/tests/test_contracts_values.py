import unicodedata

import pytest
from phananh_contracts import GeoPoint, Place, Reporter, TrackingCode
from pydantic import TypeAdapter, ValidationError

pytestmark = pytest.mark.unit


def test_text_from_legacy_encodings_is_normalized_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Chiềng Sinh")

    place = Place(ward_name=decomposed)

    assert place.ward_name == "Chiềng Sinh"
    assert unicodedata.is_normalized("NFC", place.ward_name)


@pytest.mark.parametrize("code", ["SL-2303-7KQ4M9", "HN-0001-000000", "SLAH-9912-ZZZZZZ"])
def test_tracking_codes_that_can_be_read_over_the_phone_are_accepted(code: str) -> None:
    assert TypeAdapter(TrackingCode).validate_python(code) == code


@pytest.mark.parametrize(
    "code",
    [
        "sl-2303-7KQ4M9",  # lowercase
        "SL-2303-7KQ4MI",  # I is not Crockford base32
        "SL-2303-7KQ4MO",  # nor O
        "SL-23-7KQ4M9",  # two digits
        "S-2303-7KQ4M9",  # one letter
        "SL-2303-7KQ4M9X",  # seven characters
    ],
)
def test_malformed_tracking_codes_are_rejected(code: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(TrackingCode).validate_python(code)


@pytest.mark.parametrize(
    ("lat", "lon"), [(91, 103.9), (-91, 103.9), (21.3, 181), (21.3, -181), (float("nan"), 0)]
)
def test_points_outside_the_globe_are_rejected(lat: float, lon: float) -> None:
    with pytest.raises(ValidationError):
        GeoPoint(lat=lat, lon=lon)


def test_anonymous_reporters_carry_no_contact() -> None:
    with pytest.raises(ValidationError, match="anonymous reporters carry no contact_ciphertext"):
        Reporter(anonymous=True, pseudonym="p" * 64, contact_ciphertext="gAAAAABk")


def test_a_contact_comes_with_the_pseudonym_notifications_are_keyed_on() -> None:
    with pytest.raises(ValidationError, match="needs a pseudonym"):
        Reporter(anonymous=False, contact_ciphertext="gAAAAABk")
