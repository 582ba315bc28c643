"""Valid input for a coupon template as staff send it: the editable fields, before validation."""

import factory


class TemplateInputFactory(factory.DictFactory):
    """``TemplateInputFactory(total_quantity=0)`` is a template body with one field changed."""

    name = factory.Sequence(lambda n: f"满100减10 第{n}批")
    short_name = "满100减10"
    description = "全场满100元可用"
    type = "CASH_VOUCHER"
    value = factory.LazyFunction(lambda: {"amount": "10.00"})
    usage_rules = factory.LazyFunction(lambda: [{"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}}])
    total_quantity = 100
    per_user_limit = 1
    validity_type = "RELATIVE_DAYS"
    valid_days_after_issue = 7
    target = factory.LazyFunction(lambda: {"type": "ALL"})
    product_line = "01"
