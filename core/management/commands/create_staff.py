from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.roles import ROLES


class Command(BaseCommand):
    help = "Create (or update) a staff account in the Operations or Finance role."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=sorted(ROLES))
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--reactivate",
            action="store_true",
            help="open a deactivated account again (without it, a deactivated account is refused)",
        )

    @transaction.atomic
    def handle(self, *args, **options):
        username, role, password = options["username"], options["role"], options["password"]
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first() or user_model(username=username)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        created = user.pk is None
        reactivated = not created and not user.is_active
        if reactivated and not options["reactivate"]:
            raise CommandError(
                f"The account {username} is deactivated: pass --reactivate to open it again, or pick another name."
            )
        user.is_active = True
        user.is_staff = True
        user.email = options["email"] or user.email
        user.set_password(password)
        user.save()
        user.groups.remove(*Group.objects.filter(name__in=ROLES.values()))
        user.groups.add(Group.objects.get(name=ROLES[role]))
        verb = "Created" if created else "Reactivated" if reactivated else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {role} staff account {username}"))
