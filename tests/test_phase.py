"""The phase command: the gradient map's sign change sits on theory's edge of chaos, a map does not
depend on where it ran, and trainability is widest at criticality."""
import json
import math

import pytest

import extras
from tinygrad_vg import theory
from tinygrad_vg.commands import phase
from tinygrad_vg.script import parser_for
from tinygrad_vg.views.jsondata import to_json

SMALL = dict(sigma_w=[1.0, 1.5], sigma_b=[0.05], depth=[6, 12], width=16, seeds=2, progress=False)


@pytest.mark.parametrize("sigma_b", [0.05, 0.3])
def test_the_measured_sign_change_is_within_one_grid_step_of_the_critical_sigma_w(sigma_b):
    step = 0.25
    result = phase.run(sigma_w=[0.5 + step * k for k in range(9)], sigma_b=[sigma_b], depth=[60], width=128,
                       seeds=3, workers=1, progress=False)
    gains = phase.mean_over_seeds(result["cells"], result["config"]["sigma_w"], "log10_gain_per_layer", sigma_b, 60)
    measured = phase.sign_change(result["config"]["sigma_w"], gains)
    assert result["measured"]["mean"] == [[gains]] and result["measured"]["sign_change"] == [[measured]]
    assert measured is not None and abs(measured - theory.tanh_critical_sigma_w(sigma_b)) < step
    assert result["theory"]["critical_sigma_w"] == [theory.tanh_critical_sigma_w(sigma_b)]


def test_the_map_is_the_same_on_one_process_on_a_pool_and_on_a_dask_cluster():
    serial = phase.run(**SMALL, workers=1)
    assert phase.run(**SMALL, workers=2)["cells"] == serial["cells"]
    if extras.installed("distributed"):
        assert phase.run(**SMALL, workers=2, dask="local")["cells"] == serial["cells"]


def test_a_resumed_map_reads_finished_cells_from_its_file(tmp_path):
    path = tmp_path / "phase.jsonl"
    first = phase.run(**SMALL, workers=1, resume=str(path))
    lines = path.read_text().splitlines()
    assert len(lines) == len(first["cells"])
    path.write_text("\n".join(lines[:3]) + "\n")
    assert phase.run(**SMALL, workers=1, resume=str(path))["cells"] == first["cells"]
    assert len(path.read_text().splitlines()) == len(first["cells"])


def test_the_json_has_the_documented_contract():
    result = phase.run(**SMALL, workers=1)
    data = json.loads(to_json(result))
    assert data["command"] == "phase" and set(data["config"]) >= {"measure", "width", "sigma_w", "sigma_b", "depth"}
    assert set(data["cells"][0]) >= {"sigma_w", "sigma_b", "depth", "seed", "log10_gain_per_layer"}
    assert set(data["theory"]) >= {"chi_1", "xi_c", "critical_sigma_w"}
    assert len(data["cells"]) == 2 * 2 * 2 and len(data["theory"]["chi_1"][0]) == 2


def test_trainability_is_widest_at_the_edge_of_chaos():
    # depth 24 at sigma_b 0.05: 6 xi_c is 4 layers at sigma_w 0.5, 22 at 4.0, and > 100 at 1.1 (critical 1.12)
    result = phase.run(measure="trainability", sigma_w=[0.5, 1.1, 4.0], depth=[24], steps=150, workers=1, progress=False)
    accuracy = result["measured"]["mean"][0][0]                     # sigma_b 0.05, depth 24
    assert accuracy[1] > 0.9 and accuracy[1] > accuracy[0] + 0.2 and accuracy[1] > accuracy[2] + 0.2
    xi_c = result["theory"]["xi_c"][0]
    assert 6 * xi_c[0] < 24 and 6 * xi_c[2] < 24 < 6 * xi_c[1]


def test_show_prints_the_map_and_help_works(capsys):
    result = phase.run(**SMALL, workers=1)
    text = result.show()
    assert "critical sigma_w" in text and "0.5 log chi_1" in text
    assert math.isfinite(result["cells"][0]["log10_gain_per_layer"])
    assert result.figure()[0]["heatmap"]
    with pytest.raises(SystemExit):
        parser_for(phase).parse_args(["--help"])
    assert "Short answer" in capsys.readouterr().out


def test_bad_ranges_and_depths_are_usage_errors():
    parser = parser_for(phase)
    with pytest.raises(SystemExit):
        parser.parse_args(["--sigma-w", "4:1:0.5"])
    with pytest.raises(phase.OptionError, match="depth"):
        phase.run(sigma_w=[1.0], depth=[1], workers=1, progress=False)
