"""Codes the engine gives. A failed rule's reason code is its ``rule_type``; the rest are below."""

from enum import StrEnum


class ReasonCode(StrEnum):
    """Status reasons (not tied to one rule). Parameters are listed beside each."""

    INVALID_DEFINITION = "INVALID_DEFINITION"  # {"problems": ["<field>:<problem code>", ...]}
    EMPTY_CART = "EMPTY_CART"  # {}
    EXPIRED = "EXPIRED"  # {"expires_at": "2024-05-01 10:00"} in the business time zone
    NOT_YET_VALID = "NOT_YET_VALID"  # {"valid_from": "2024-05-01 10:00"}
    GIFT_UNAVAILABLE = "GIFT_UNAVAILABLE"  # {"sku": "d-901"}
    NO_BENEFIT = "NO_BENEFIT"  # {}: it would take nothing off (base used up, or rounds to 0.00)
    NOT_STACKABLE = "NOT_STACKABLE"  # {"coupon_ids": [...]}: chosen with others, and one side stands alone
    EXCLUDED_COUPON_TYPE = "EXCLUDED_COUPON_TYPE"  # {"coupon_ids": [...], "coupon_types": [...]}
    DUPLICATE_COUPON = "DUPLICATE_COUPON"  # {}: the same coupon chosen twice


class ProblemCode(StrEnum):
    """Why a template definition is refused. ``key`` names the offending key (``slots[0].start``)."""

    UNKNOWN_TYPE = "UNKNOWN_TYPE"  # {"type"}
    NOT_AN_OBJECT = "NOT_AN_OBJECT"  # {"key"?}
    NOT_A_LIST = "NOT_A_LIST"  # {"key"?}
    UNKNOWN_KEY = "UNKNOWN_KEY"  # {"key"}
    REQUIRED = "REQUIRED"  # {"key"}
    INVALID_NUMBER = "INVALID_NUMBER"  # {"key"}: not a number or a numeric string
    BOOLEAN_NOT_ALLOWED = "BOOLEAN_NOT_ALLOWED"  # {"key"}: true/false where a number belongs
    TOO_MANY_DECIMALS = "TOO_MANY_DECIMALS"  # {"key", "max_places"}
    NOT_POSITIVE = "NOT_POSITIVE"  # {"key"}: must be above 0
    TOO_LARGE = "TOO_LARGE"  # {"key", "max"}
    OUT_OF_RANGE = "OUT_OF_RANGE"  # {"key", "min", "max"}: whole numbers, bounds included
    NOT_AN_INTEGER = "NOT_AN_INTEGER"  # {"key"}
    NOT_A_STRING = "NOT_A_STRING"  # {"key"}
    EMPTY_STRING = "EMPTY_STRING"  # {"key"}
    NOT_A_BOOLEAN = "NOT_A_BOOLEAN"  # {"key"}
    EMPTY_LIST = "EMPTY_LIST"  # {"key"}
    NO_ITEMS = "NO_ITEMS"  # {"keys": [...]}: none of the item / category lists has an entry
    INVALID_CHOICE = "INVALID_CHOICE"  # {"key", "value", "choices"}
    DUPLICATE_VALUE = "DUPLICATE_VALUE"  # {"key", "value"}
    INVALID_TIME = "INVALID_TIME"  # {"key", "value"}: not "HH:MM"
    EMPTY_SLOT = "EMPTY_SLOT"  # {"key"}: start equals end
    OVERLAPPING_SLOTS = "OVERLAPPING_SLOTS"  # {"key", "first", "second"}: two slots share some minutes
    TOO_MANY_SLOTS = "TOO_MANY_SLOTS"  # {"key", "max"}
    MIN_ABOVE_MAX = "MIN_ABOVE_MAX"  # {"min_key", "max_key"}
    UNKNOWN_RULE = "UNKNOWN_RULE"  # {"rule_type"}
    DUPLICATE_RULE = "DUPLICATE_RULE"  # {"rule_type", "first_index"}
    RULE_NOT_ALLOWED = "RULE_NOT_ALLOWED"  # {"rule_type", "coupon_type"}
