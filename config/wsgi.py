import os

from django.core.wsgi import get_wsgi_application

# Production unless told otherwise: a server or worker started without the variable must not run with
# DEBUG and the development secret. manage.py and `make run` use config.settings.local.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()
