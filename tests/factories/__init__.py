from .coupons import CouponTemplateFactory, UserCouponFactory
from .marketing import MemberProfileFactory
from .orders import CategoryFactory, ProductFactory
from .users import StaffFactory, UserFactory

__all__ = [
    "CategoryFactory",
    "CouponTemplateFactory",
    "MemberProfileFactory",
    "ProductFactory",
    "StaffFactory",
    "UserCouponFactory",
    "UserFactory",
]
