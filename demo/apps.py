from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data (``seed_demo``): the top of the layers, it uses every app and no app uses it."""

    name = "demo"
    verbose_name = "Demo data"
