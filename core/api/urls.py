# Shared API routes; the customer account routes (auth/register, auth/token) are marketing's, which
# owns the member profile a registration creates.
urlpatterns: list = []
