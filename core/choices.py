from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    APP = "APP", _("App")
    MINI_PROGRAM = "MINI_PROGRAM", _("Mini program")
    WEB = "WEB", _("Web")
    POS = "POS", _("POS")
