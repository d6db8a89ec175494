"""completion/complete and the browsing resources (jobs://, rag://collections) through in-memory
clients of both protocol eras, on a server with a real collection, image, job, adapter and a
Hugging Face cache of model repositories.

Values come filtered by the typed prefix, capped at 100 with an honest total; unknown prompts,
templates and arguments get an empty completion, not an error; each template the server offers
reads back, and an unknown job or collection is a clear not-found.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import constants
from mcp import Client, MCPError
from mcp.server import MCPServer
from mcp.types import Completion, PromptReference, ResourceTemplateReference, TextResourceContents

from genai_mcp.server.app import create_server
from genai_mcp.server.rag_resources import DOCUMENTS_LISTED
from genai_mcp.server.settings import ServerSettings
from tests.helpers.results import ok, run_client
from tests.helpers.workspace import hub_cache, rag_collection, saved_output, trained_job

MODES = ["legacy", "auto"]
CACHED = [f"org{i:03d}/model-{i}" for i in range(150)] + [
    "google/vit-base-patch16-224",
    "openai/clip-vit-base-patch32",
    "gpt2",
]


@dataclass
class Setup:
    server: MCPServer[Any]
    job_id: str
    adapter: str
    image_uri: str
    image_name: str
    hub: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    base = tmp_path_factory.mktemp("completions")
    settings = ServerSettings(data_dir=base / "data", log_level="WARNING")
    rag_collection(
        settings, "birds", {"herons.md": ["Herons fish at dusk.", "They stand still."], "owls.md": ["Owls."]}
    )
    rag_collection(settings, "bikes", {"gears.md": ["Gears."]})
    rag_collection(settings, "cars", {"engines.md": ["Engines."]})
    image = saved_output(settings)
    server = create_server(settings)
    job: dict[str, Any] = {}

    async def train(client: Client) -> None:
        job.update(await trained_job(client, "heron"))

    run_client(server, train)
    return Setup(
        server, job["job_id"], job["adapter"], image.uri, image.name, hub_cache(base / "hub", CACHED)
    )


@pytest.fixture
def hub(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The Hugging Face cache this process reads (as HF_HUB_CACHE would set it) is the test's."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(setup.hub))
    yield setup.hub


def prompt(name: str) -> PromptReference:
    return PromptReference(type="ref/prompt", name=name)


def template(uri: str) -> ResourceTemplateReference:
    return ResourceTemplateReference(type="ref/resource", uri=uri)


async def complete(
    client: Client,
    ref: PromptReference | ResourceTemplateReference,
    name: str,
    value: str = "",
    context: dict[str, str] | None = None,
) -> Completion:
    return (await client.complete(ref, {"name": name, "value": value}, context)).completion


def exactly(completion: Completion, values: list[str]) -> None:
    assert completion.values == values
    assert completion.total == len(values) and completion.has_more is False


# ---- prompt arguments


@pytest.mark.parametrize("mode", MODES)
def test_prompt_arguments_complete_from_this_servers_state(setup: Setup, hub: Path, mode: str) -> None:
    async def check(client: Client) -> None:
        assert client.server_capabilities.completions is not None
        exactly(await complete(client, prompt("ask_collection"), "collection"), ["bikes", "birds", "cars"])
        exactly(await complete(client, prompt("ask_collection"), "collection", "bi"), ["bikes", "birds"])
        exactly(await complete(client, prompt("ask_collection"), "collection", "BIR"), ["birds"])
        exactly(await complete(client, prompt("ask_collection"), "collection", "z"), [])

        exactly(await complete(client, prompt("describe_an_image"), "image"), [setup.image_uri])
        exactly(await complete(client, prompt("describe_an_image"), "image", "sample"), [setup.image_uri])
        exactly(await complete(client, prompt("describe_an_image"), "image", "/tmp"), [])

        # Model ids: the house model of the task first, then the hub cache (its ids carry no task).
        vit = await complete(client, prompt("describe_an_image"), "classifier_model", "vit")
        exactly(vit, ["house/vit-digits", "google/vit-base-patch16-224"])
        clip = await complete(client, prompt("describe_an_image"), "zero_shot_model", "clip")
        exactly(clip, ["house/clip-digits", "openai/clip-vit-base-patch32"])
        exactly(
            await complete(client, prompt("describe_an_image"), "zero_shot_model", "house/"),
            ["house/clip-digits"],
        )

        # The base model follows the task already chosen; before one is, both trainable kinds.
        text = await complete(
            client, prompt("plan_lora_finetune"), "base_model", "house", {"task": "causal-lm"}
        )
        exactly(text, ["house/gpt2-pydocs"])
        image = await complete(
            client, prompt("plan_lora_finetune"), "base_model", "house", {"task": "image-classification"}
        )
        exactly(image, ["house/vit-digits"])
        either = await complete(client, prompt("plan_lora_finetune"), "base_model", "house")
        exactly(either, ["house/vit-digits", "house/gpt2-pydocs"])

        # Fixed choices come from the prompt's own declaration.
        exactly(
            await complete(client, prompt("plan_lora_finetune"), "task"),
            ["causal-lm", "image-classification"],
        )
        exactly(await complete(client, prompt("evaluate_text"), "kind", "s"), ["summary"])

        exactly(await complete(client, prompt("review_training_job"), "job_id", "lora-"), [setup.job_id])
        exactly(await complete(client, prompt("review_training_job"), "job_id", "nope"), [])

    run_client(setup.server, check, mode=mode)


def test_model_ids_are_capped_at_100_with_an_honest_total(setup: Setup, hub: Path) -> None:
    async def check(client: Client) -> None:
        every = await complete(client, prompt("describe_an_image"), "classifier_model")
        assert len(every.values) == 100 and every.has_more is True
        assert every.total == 1 + len(CACHED)  # house/vit-digits and every cached repository
        assert every.values[0] == "house/vit-digits" and len(set(every.values)) == 100
        some = await complete(client, prompt("describe_an_image"), "classifier_model", "org1")
        assert some.values == [f"org{i}/model-{i}" for i in range(100, 150)]
        assert some.total == 50 and some.has_more is False

    run_client(setup.server, check)


def test_without_a_hub_cache_the_house_models_are_offered(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "no-cache-here"))

    async def check(client: Client) -> None:
        exactly(await complete(client, prompt("describe_an_image"), "classifier_model"), ["house/vit-digits"])

    run_client(setup.server, check)


@pytest.mark.parametrize("mode", MODES)
def test_unknown_references_and_arguments_get_an_empty_completion(setup: Setup, mode: str) -> None:
    async def check(client: Client) -> None:
        exactly(await complete(client, prompt("no_such_prompt"), "collection"), [])
        exactly(await complete(client, prompt("ask_collection"), "no_such_argument"), [])
        exactly(await complete(client, prompt("ask_collection"), "question", "wh"), [])  # free text
        exactly(await complete(client, template("nothing://{x}"), "x"), [])
        exactly(await complete(client, template("jobs://{job_id}"), "name"), [])
        # and the server answers the next request as before
        exactly(await complete(client, template("jobs://{job_id}"), "job_id"), [setup.job_id])

    run_client(setup.server, check, mode=mode)


# ---- resource templates: listed, completed, read


@pytest.mark.parametrize("mode", MODES)
def test_every_template_parameter_completes_to_a_readable_resource(setup: Setup, mode: str) -> None:
    async def check(client: Client) -> None:
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert templates == {
            "models://{folder}/card",
            "adapters://{name}",
            "adapters://{name}/card",
            "genai-mcp://outputs/{name}",
            "jobs://{job_id}",
            "rag://collections/{collection}",
        }
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {"jobs://list", "rag://collections", "models://list", "adapters://list"} <= resources

        expected = {
            "models://{folder}/card": ("vit", ["vit-digits"]),
            "adapters://{name}": ("he", [setup.adapter]),
            "adapters://{name}/card": ("HE", [setup.adapter]),
            "genai-mcp://outputs/{name}": ("sample", [setup.image_name]),
            "jobs://{job_id}": ("", [setup.job_id]),
            "rag://collections/{collection}": ("bir", ["birds"]),
        }
        for uri_template, (typed, values) in expected.items():
            parameter = uri_template.split("{")[1].split("}")[0]
            completion = await complete(client, template(uri_template), parameter, typed)
            exactly(completion, values)
            uri = uri_template.replace("{" + parameter + "}", values[0])
            assert (await client.read_resource(uri)).contents, uri

    run_client(setup.server, check, mode=mode)


def read_json(contents: Any) -> Any:
    (content,) = contents
    assert isinstance(content, TextResourceContents) and content.mime_type == "application/json"
    return json.loads(content.text)


@pytest.mark.parametrize("mode", MODES)
def test_jobs_and_collections_read_as_json_and_unknown_ones_are_not_found(setup: Setup, mode: str) -> None:
    async def check(client: Client) -> None:
        listing = read_json((await client.read_resource("jobs://list")).contents)
        (job,) = listing["jobs"]
        assert job["job_id"] == setup.job_id and job["uri"] == f"jobs://{setup.job_id}"
        one = read_json((await client.read_resource(job["uri"])).contents)
        assert one == ok(await client.call_tool("job_status", {"job_id": setup.job_id}))
        assert one["state"] == "succeeded" and one["result"]["adapter"] == setup.adapter
        with pytest.raises(
            MCPError,
            match=r"no job 'lora-00000000' in this server's job records \(recent: lora-",
        ):
            await client.read_resource("jobs://lora-00000000")

        collections = read_json((await client.read_resource("rag://collections")).contents)["collections"]
        assert [c["name"] for c in collections] == ["bikes", "birds", "cars"]
        birds = next(c for c in collections if c["name"] == "birds")
        assert birds["uri"] == "rag://collections/birds" and birds["documents"] == 2 and birds["chunks"] == 3
        detail = read_json((await client.read_resource(birds["uri"])).contents)
        assert detail["embedding_model"] == "test/unit-vectors" and detail["dimensions"] == 4
        assert detail["documents_listed"] == [
            {"id": "herons.md", "chunks": 2},
            {"id": "owls.md", "chunks": 1},
        ]
        with pytest.raises(MCPError, match=r"no collection named 'fish' \(collections: bikes, birds, cars\)"):
            await client.read_resource("rag://collections/fish")
        with pytest.raises(MCPError, match=r"'Fish' is not a collection name"):
            await client.read_resource("rag://collections/Fish")
        # still serving
        assert read_json((await client.read_resource("rag://collections/cars")).contents)["documents"] == 1

    run_client(setup.server, check, mode=mode)


def test_a_large_collection_lists_its_first_documents_by_id(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, log_level="WARNING")
    many = DOCUMENTS_LISTED + 1
    rag_collection(settings, "many", {f"doc-{i:05d}": [f"text {i}"] for i in range(many)})

    async def check(client: Client) -> None:
        detail = read_json((await client.read_resource("rag://collections/many")).contents)
        assert detail["documents"] == many  # the count says how many there are
        listed = [d["id"] for d in detail["documents_listed"]]
        assert listed == [f"doc-{i:05d}" for i in range(DOCUMENTS_LISTED)]

    run_client(create_server(settings), check)
