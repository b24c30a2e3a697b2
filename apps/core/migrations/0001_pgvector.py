from django.db import migrations
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    """PostgreSQL's `vector` extension (pgvector), needed by knowledge bases."""

    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [VectorExtension()]
