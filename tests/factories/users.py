import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from core.roles import ROLES, sync_role_groups


class UserFactory(factory.django.DjangoModelFactory):
    """A customer with a member profile (``UserFactory(profile=False)`` for none)."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-1234")

    @factory.post_generation
    def profile(obj, create, extracted, **kwargs):  # noqa: N805
        if not create:
            return
        obj.save()
        if extracted is not False:
            from tests.factories.marketing import MemberProfileFactory

            MemberProfileFactory(user=obj, **kwargs)


class StaffFactory(UserFactory):
    """A staff member in a role group: ``StaffFactory(role="finance")``; operations by default."""

    is_staff = True

    # Staff have no member profile unless asked (``StaffFactory(profile=True)``). A plain
    # ``profile = False`` would replace the post-generation hook and reach the model as a field.
    @factory.post_generation
    def profile(obj, create, extracted, **kwargs):  # noqa: N805
        if not create:
            return
        obj.save()
        if extracted:
            from tests.factories.marketing import MemberProfileFactory

            MemberProfileFactory(user=obj, **kwargs)

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            name = ROLES[extracted or "operations"]
            if not Group.objects.filter(name=name).exists():
                # The groups come from a data migration, which a transactional test's flush removes.
                sync_role_groups(Group, Permission)
            obj.groups.add(Group.objects.get(name=name))
