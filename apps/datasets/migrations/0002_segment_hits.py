"""Hit counts move off the segment rows (a row update there re-inserts the row into the
dataset's HNSW index) into their own table; existing counts are copied."""

import django.db.models.deletion
from django.db import migrations, models

COPY = (
    "INSERT INTO datasets_segmenthit (segment_id, hit_count) "
    "SELECT id, hit_count FROM datasets_segment WHERE hit_count > 0"
)
COPY_BACK = (
    "UPDATE datasets_segment s SET hit_count = h.hit_count "
    "FROM datasets_segmenthit h WHERE h.segment_id = s.id"
)


class Migration(migrations.Migration):
    dependencies = [
        ("datasets", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SegmentHit",
            fields=[
                (
                    "segment",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="hits",
                        serialize=False,
                        to="datasets.segment",
                    ),
                ),
                ("hit_count", models.IntegerField(default=0)),
            ],
        ),
        migrations.RunSQL(COPY, reverse_sql=COPY_BACK),
        migrations.RemoveField(
            model_name="segment",
            name="hit_count",
        ),
    ]
