import factory

from marketing.models import MemberProfile


class MemberProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MemberProfile

    invite_code = factory.Sequence(lambda n: f"INV{n:08d}")
