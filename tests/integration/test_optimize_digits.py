"""`mlinfer optimize` end to end on the trained digits sample: real data, real accuracy.

The INT8 version it publishes is then served by mlinfer itself and scored over HTTP, so the
accuracy in the report is the accuracy clients get.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from mlinfer.cli.main import main
from mlinfer.samples.models import digits_classifier, digits_split
from mlinfer.samples.writer import write_model
from tests.support.servers import ServerThread, settings_for


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("digits")
    write_model(digits_classifier(), root / "repo")
    x_train, _, x_test, y_test = digits_split()
    np.savez(root / "calib.npz", pixels=x_train)
    np.savez(root / "val.npz", pixels=x_test, labels=y_test)
    return root / "repo" / "digits", root / "calib.npz", root / "val.npz"


def _served_accuracy(repository: Path, x: np.ndarray, y: np.ndarray) -> float:
    scores = []
    with ServerThread(settings_for(repository)) as server, httpx.Client(timeout=60) as client:
        for start in range(0, len(x), 64):  # max_batch_size 64, carried over from the source
            chunk = x[start : start + 64]
            body = {
                "inputs": [
                    {
                        "name": "pixels",
                        "datatype": "FP32",
                        "shape": list(chunk.shape),
                        "data": chunk.ravel().tolist(),
                    }
                ]
            }
            response = client.post(f"http://{server.http}/v2/models/digits/infer", json=body)
            assert response.status_code == 200, response.text
            scores.append(np.asarray(response.json()["outputs"][0]["data"]).reshape(-1, 10))
    return float(np.mean(np.argmax(np.concatenate(scores), axis=1) == y))


def test_int8_keeps_the_accuracy_and_is_published_and_served(
    digits: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir, calib, val = digits
    out, reports = tmp_path / "optimized", tmp_path / "reports"
    code = main(
        [
            "optimize",
            str(model_dir),
            "--calibration",
            str(calib),
            "--validation",
            str(val),
            "--validation-samples",
            "450",
            "--precision",
            "int8",
            "--output-repository",
            str(out),
            "--report-dir",
            str(reports),
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "[optimize] int8 candidate" in printed.err  # progress lines
    report = json.loads((reports / "optimization_report.json").read_text())
    int8 = next(c for c in report["candidates"] if c["precision"] == "int8")
    accuracy = int8["gate"]["accuracy"]
    assert accuracy["samples"] == 450
    assert accuracy["reference"] > 0.93  # the trained MLP, measured, not assumed
    assert abs(accuracy["reference"] - accuracy["candidate"]) * 100 <= 1.0
    assert report["published"]["precision"] == "int8" and report["published"]["version"] == 1

    folder = out / "digits" / "1"
    assert (folder / "optimization_report.json").is_file()
    import onnx

    ops = {n.op_type for n in onnx.load(str(folder / "model.onnx")).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    _, _, x_test, y_test = digits_split()
    served = _served_accuracy(out, x_test, y_test)
    assert served == pytest.approx(accuracy["candidate"], abs=1e-9)


def test_a_budget_no_candidate_meets_publishes_nothing(
    digits: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir, calib, val = digits
    out, reports = tmp_path / "optimized", tmp_path / "reports"
    code = main(
        [
            "optimize",
            str(model_dir),
            "--calibration",
            str(calib),
            "--validation",
            str(val),
            "--precision",
            "int8",
            "--precision",
            "fp16",
            "--min-sqnr",
            "200",
            "--fallback-rounds",
            "1",
            "--output-repository",
            str(out),
            "--report-dir",
            str(reports),
            "-q",
        ]
    )
    printed = capsys.readouterr()
    assert code == 1
    assert not out.exists()  # nothing written
    assert "nothing published" in printed.err and "below the budget's 200" in printed.err
    report = json.loads((reports / "optimization_report.json").read_text())
    assert report["passed"] is False and report["published"] is None
    assert "no candidate met the budget" in report["reason"]
    statuses = {c["precision"]: c["status"] for c in report["candidates"]}
    assert statuses == {"fp32": "reference", "int8": "over budget", "fp16": "over budget"}


def test_bad_data_is_a_usage_error_naming_the_input(
    digits: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir, _, _ = digits
    bad = tmp_path / "bad.npz"
    np.savez(bad, pixels=np.zeros((30, 8, 8), np.float32))
    assert main(["optimize", str(model_dir), "--calibration", str(bad), "-q"]) == 2
    assert "input 'pixels' has shape [30, 8, 8], expected [N, 64]" in capsys.readouterr().err


def test_report_only_profiles_an_existing_model(
    digits: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir, _, val = digits
    assert (
        main(
            ["optimize", str(model_dir), "--report-only", "--validation", str(val), "--json", "-q"]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    (candidate,) = report["candidates"]
    assert candidate["precision"] == "fp32" and candidate["profile"]["throughput"] > 0


def test_an_engine_is_never_used_without_tensorrt_to_check_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "repo" / "cnn"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text(
        'name: "cnn"\nplatform: "tensorrt_plan"\nmax_batch_size: 8\n'
        'default_model_filename: "model.plan"\n'
    )
    (model / "1" / "model.plan").write_bytes(b"an engine from elsewhere")
    assert main(["optimize", str(model), "--report-only", "-q"]) == 2
    assert "TensorRT is needed" in capsys.readouterr().err
