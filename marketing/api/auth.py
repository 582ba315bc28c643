import re
import unicodedata
from datetime import date

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.serializers import PasswordField, StrictSerializer
from core.api.throttling import RegisterThrottle, SignInLockoutThrottle, TokenThrottle
from core.choices import Channel
from core.errors import ApplicationError
from core.idempotency import idempotent
from core.lockout import request_abandoned, signed_in
from marketing.services.registration import customer_register

USERNAME = re.compile(r"[\w.@+-]+")
USERNAME_LENGTH = 150


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [RegisterThrottle]

    class InputSerializer(StrictSerializer):
        username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=USERNAME_LENGTH)
        password = PasswordField()
        birthday = serializers.DateField(required=False, allow_null=True)
        invite_code = serializers.CharField(required=False, allow_blank=True, max_length=12)
        channel = serializers.ChoiceField(choices=Channel.choices, required=False, default=Channel.APP)

        def validate_username(self, value: str) -> str:
            # The account stores the name NFKC-normalised (Django's create_user): checked as it will be
            # stored, since normalising can lengthen it ("ﬃ" is "ffi") or bring in spaces ("ﷺ").
            stored = unicodedata.normalize("NFKC", value)
            messages = self.fields["username"].error_messages
            if len(stored) > USERNAME_LENGTH:
                raise serializers.ValidationError(messages["max_length"].format(max_length=USERNAME_LENGTH))
            if not USERNAME.fullmatch(stored):
                raise serializers.ValidationError(messages["invalid"])
            return stored

        def validate_password(self, value: str) -> str:
            validate_password(value)
            return value

        def validate_birthday(self, value: date | None) -> date | None:
            if value is not None and value > timezone.localdate():
                raise serializers.ValidationError(_("A birthday cannot be in the future."))
            return value

        def validate(self, attrs: dict) -> dict:
            # Again with the account: a password too like the username is refused too.
            try:
                validate_password(attrs["password"], get_user_model()(username=attrs["username"]))
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": list(exc.messages)}) from exc
            return attrs

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        user_id = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = customer_register(**data.validated_data)
        token = Token.objects.create(user=user)
        return Response({"token": token.key, "user_id": user.pk}, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [TokenThrottle, SignInLockoutThrottle]

    class InputSerializer(StrictSerializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        if not data.is_valid():
            request_abandoned(request)  # no password was checked: the sign-in slot is given back
            raise serializers.ValidationError(data.errors)
        user = authenticate(request, **data.validated_data)
        if user is None:
            raise ApplicationError(_("Wrong username or password."), code="INVALID_CREDENTIALS", details={})
        signed_in(request=request, user=user)  # clears the account's failures and frees the slot, as admin's
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
