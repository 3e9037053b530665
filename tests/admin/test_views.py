"""Block Kit builders: the right content, and always within Slack's limits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.admin.commands import help_lines
from bot.views import blocks as bk
from bot.views.format import model_line
from bot.views.home import build_home_view
from bot.views.job_progress import build_progress_text, console_url, stage_of
from bot.views.limits import block_kit_problems
from bot.views.messages import (
    FORGET_ME_ACTION,
    build_forget_me_blocks,
    build_help_blocks,
    build_jobs_blocks,
    build_refusal_text,
    build_status_blocks,
)
from tests.admin.builders import dashboard, job, model
from tuning.lifecycle.tracing import WITHHELD_BECAUSE
from tuning.records import WITHHELD


def _buttons(view_blocks: list[dict]) -> list[dict]:
    found = []
    for block in view_blocks:
        found += [e for e in block.get("elements", ()) if e.get("type") == "button"]
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
    return found


def test_admin_home_has_guarded_buttons_and_member_home_has_none() -> None:
    admin = build_home_view(dashboard(), is_admin=True, chart_file_id="F1", summary="s")
    member = build_home_view(dashboard(), is_admin=False, admins=["UADMIN"])
    admin_ids = {b["action_id"] for b in _buttons(admin["blocks"])}
    assert {"home_retrain:classifier:sft", "home_retrain:generator:preference"} <= admin_ids
    assert "home_promote:classifier:c2" in admin_ids
    assert "home_rollback:classifier" in admin_ids
    for button in _buttons(admin["blocks"]) + _buttons(member["blocks"]):
        assert "confirm" in button, button["action_id"]
    assert {b["action_id"] for b in _buttons(member["blocks"])} == {FORGET_ME_ACTION}
    assert any("<@UADMIN>" in str(b) for b in member["blocks"])
    assert any(b["type"] == "image" and b["slack_file"] == {"id": "F1"} for b in admin["blocks"])
    assert admin["type"] == "home"


def test_home_shows_models_jobs_feedback_and_channels() -> None:
    text = str(build_home_view(dashboard(), is_admin=False)["blocks"])
    for expected in ("`c1`", "`g1`", "`run1`", "`j0`", "21 positive, 7 negative", "<#C1>", "0.80"):
        assert expected in text


def test_a_model_line_leads_with_the_metric_that_promoted_it() -> None:
    training = {f"n_{i}": float(i) for i in range(1, 9)}  # more than the line has room for
    generator = model("generator", "g1", metrics={**training, "quality": 0.55})
    assert model_line(generator, "generator").startswith(
        "*Generator*: `g1` (local), quality 0.550, n_1 1"
    )


def test_action_ids_are_unique_within_each_block() -> None:
    for block in build_home_view(dashboard(candidates=5), is_admin=True)["blocks"]:
        ids = [e["action_id"] for e in block.get("elements", ()) if "action_id" in e]
        assert len(ids) == len(set(ids))


@settings(max_examples=30, deadline=None)
@given(
    jobs=st.integers(0, 400),
    candidates=st.integers(0, 5),
    channels=st.integers(0, 10),
    text=st.text(max_size=5000),
    admin=st.booleans(),
)
def test_home_stays_within_block_kit_limits(
    jobs: int, candidates: int, channels: int, text: str, admin: bool
) -> None:
    view = build_home_view(
        dashboard(jobs=jobs, candidates=candidates, channels=channels, text=text[:40]),
        is_admin=admin,
        summary=text,
        notice=text,
    )
    assert block_kit_problems(view["blocks"]) == []


@settings(max_examples=30, deadline=None)
@given(count=st.integers(0, 600), error=st.text(max_size=3000))
def test_jobs_and_status_stay_within_limits(count: int, error: str) -> None:
    jobs = [job(f"job-{i}", "FAILED", error=error) for i in range(count)]
    blocks = build_jobs_blocks(jobs)
    assert block_kit_problems(blocks) == []
    if count:
        assert "job-0" in str(blocks)
    assert block_kit_problems(build_status_blocks(dashboard(text=error[:100]))) == []


def test_limit_checker_catches_each_limit() -> None:
    too_many = [bk.divider()] * 101
    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    long_header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    long_value = {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "b"},
                "action_id": "a" * 256,
                "value": "v" * 2001,
            }
        ],
    }
    assert block_kit_problems(too_many) == ["101 blocks > 100"]
    assert len(block_kit_problems([long_section, long_header, long_value])) == 4
    assert block_kit_problems(bk.cap_blocks(too_many)) == []


def test_help_lists_everything_and_one_topic_alone() -> None:
    assert "/sarcasm forget-me" in str(build_help_blocks(help_lines()))
    one = build_help_blocks(help_lines("threshold"), one=True)
    assert len(one) == 1
    assert "(admins)" in one[0]["text"]["text"]


def test_refusal_names_who_can() -> None:
    text = build_refusal_text("retrain", ["U2", "U1"])
    assert "<@U1>, <@U2> or a workspace admin or owner" in text
    assert "/sarcasm retrain" in text
    assert "workspace admin" in build_refusal_text("mode", [])


def test_forget_me_button_is_confirmed() -> None:
    button = build_forget_me_blocks()[0]["accessory"]
    assert button["action_id"] == FORGET_ME_ACTION
    assert button["confirm"]["confirm"]["text"] == "Delete"


def test_progress_text_for_each_stage() -> None:
    queued = job(state="PENDING")
    vertex = job(
        state="RUNNING",
        backend="vertex",
        remote_name="projects/p1/locations/europe-west4/tuningJobs/987",
    )
    evaluating = job(state="EVALUATING", metrics={"candidate": {"f1": 0.9}, "active": 0.5})
    promoted = job(outcome="promoted", candidate_version="c9", metrics={"f1": 0.9})
    kept = job(outcome="kept", candidate_version="c9")
    failed = job(state="FAILED", outcome="failed", error="Dataset too small: 3 < 100\ntrace")
    assert stage_of(queued) == "queued"
    assert "Queued" in build_progress_text(queued)
    link = console_url(vertex)
    assert link == (
        "https://console.cloud.google.com/vertex-ai/generative/language/locations/"
        "europe-west4/tuning/tuningJob/987?project=p1"
    )
    assert link in build_progress_text(vertex)
    assert console_url(job(state="RUNNING")) is None
    assert "candidate f1 0.900" in build_progress_text(evaluating)
    assert "Promoted `c9`" in build_progress_text(promoted)
    assert "promote classifier c9" in build_progress_text(kept)
    assert build_progress_text(failed).endswith("failed: Dataset too small: 3 < 100")


def test_a_withheld_job_says_why_in_plain_words_and_offers_no_promotion() -> None:
    reason = WITHHELD_BECAUSE["forgotten"]
    text = build_progress_text(
        job(outcome=WITHHELD, candidate_version="c9", metrics={"decision": reason})
    )
    assert text.startswith(":no_entry: Withheld `c9`")
    assert f"({reason})" in text
    assert "/sarcasm promote" not in text


def test_progress_reads_the_tuning_service_metrics_shape() -> None:
    metrics = {
        "key": "f1",
        "candidate": {"f1": 0.812, "precision": 0.7, "n": 40.0},
        "active": {"f1": 0.79},
        "decision": "f1 0.812 vs active 0.790 (margin 0.01)",
    }
    evaluating = build_progress_text(job(state="EVALUATING", metrics=metrics))
    assert evaluating.endswith("f1 0.812 vs active 0.790 (precision 0.700).")
    promoted = build_progress_text(job(outcome="promoted", candidate_version="c9", metrics=metrics))
    assert "(f1 0.812 vs active 0.790 (margin 0.01))" in promoted
    first = build_progress_text(job(state="EVALUATING", metrics={**metrics, "active": None}))
    assert "vs active" not in first
