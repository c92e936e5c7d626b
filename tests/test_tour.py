"""The tour is the lessons q1-q4 run in sequence: each section is its lesson's own run() (never a copy
of it), shown under the lesson's question, and the whole result is plain JSON."""
import json

import pytest

from tinygrad_vg.commands import tour
from tinygrad_vg.examples import q1_identity_chain, q2_training_does_not_fix_it, q3_overflow_halts_training
from tinygrad_vg.examples import q4_tanh_explodes
from tinygrad_vg.script import parser_for

LESSONS = [q1_identity_chain, q2_training_does_not_fix_it, q3_overflow_halts_training, q4_tanh_explodes]
SMALL = {q1_identity_chain: dict(depth=5, width=2), q2_training_does_not_fix_it: dict(depth=4, width=4, steps=3),
         q3_overflow_halts_training: dict(width=2, steps=1),
         q4_tanh_explodes: dict(depth=8, burn_in=2, width=8, seeds=1, sigma_w=(0.8, 2.0))}


@pytest.fixture(scope="module")
def default_tour():
    return tour.run()


def test_the_tour_runs_the_lessons_q1_to_q4_in_order_with_their_defaults():
    assert [lesson for lesson, _ in tour.LESSONS] == LESSONS
    assert all(options == {} for _, options in tour.LESSONS)


def test_each_section_is_its_lesson_s_own_run(monkeypatch):
    calls, original_runs = [], {lesson: lesson.run for lesson in LESSONS}
    for lesson in LESSONS:
        def recorded(lesson=lesson, **options):
            calls.append((lesson, options))
            return original_runs[lesson](**SMALL[lesson])   # small, so this test takes no time
        monkeypatch.setattr(lesson, "run", recorded)
    result = tour.run()
    assert calls == [(lesson, {}) for lesson in LESSONS]
    for lesson, section in zip(LESSONS, result["sections"]):         # the lesson's data, as it returned it
        assert section["result"] == dict(original_runs[lesson](**SMALL[lesson]))


def test_the_sections_carry_each_lesson_s_question_and_short_answer(default_tour):
    sections = default_tour["sections"]
    assert [section["lesson"] for section in sections] == [lesson.__name__.rsplit(".", 1)[-1] for lesson in LESSONS]
    for n, section in enumerate(sections, 1):
        assert section["question"].startswith(f"Question {n}:")
        assert section["short_answer"].startswith("Short answer:")


def test_show_prints_the_four_sections_under_their_headings(default_tour):
    text = tour.show(default_tour)
    headings = [line for line in text.splitlines() if line[:3] in ("1. ", "2. ", "3. ", "4. ")]
    assert [heading[:13] for heading in headings] == [f"{n}. Question {n}" for n in range(1, 5)]
    for lesson, section in zip(LESSONS, default_tour["sections"]):
        assert lesson.show(section["result"]).splitlines()[0] in text     # each lesson's own text
    assert all(line == line.rstrip() for line in text.splitlines())


def test_the_result_is_json_ready_and_the_figure_gathers_every_lesson_s_panels(default_tour):
    assert json.loads(default_tour.to_json())["sections"][2]["result"]["chains"]
    titles = [panel["title"] for panel in tour.figure(default_tour)]
    expected = []
    for n, (lesson, section) in enumerate(zip(LESSONS, default_tour["sections"]), 1):
        own = [panel["title"] for panel in lesson.figure(section["result"])]   # the first names the question
        expected += [f"{section['question']} — {own[0]}"] + [f"{n}. {title}" for title in own[1:]]
    assert titles == expected


def test_the_tour_takes_the_views_flags():
    flags = parser_for(tour).parse_args(["--json", "--plot", "tour.png", "--html", "tour.html"])
    assert (flags.json, flags.plot, flags.html) == (True, "tour.png", "tour.html")
