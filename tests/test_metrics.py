import json

import pandas as pd

from videolstm.cli import main
from videolstm.tables import write_table


def test_tables_collected_into_dvc_metrics(tmp_path):
    ours = pd.DataFrame([{"row": "Composite Model", "column": "Cross Entropy on MNIST", "value": 400.5}])
    write_table("table2", ours, tmp_path, {"config_name": "unit", "data_source": "embedded", "extractor": "none"})
    out = tmp_path / "metrics.json"
    assert main(["metrics", str(tmp_path / "table2.csv"), "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    cell = metrics["table2"]["Composite Model"]["Cross Entropy on MNIST"]
    assert cell == {"ours": 400.5, "paper": 344.9}
    # a paper cell we did not run has the paper's value only
    assert "ours" not in metrics["table2"]["Future Predictor"]["Cross Entropy on MNIST"]


def test_missing_table_is_named(tmp_path, capsys):
    assert main(["metrics", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "m.json")]) == 2
    assert "nope.csv does not exist" in capsys.readouterr().err
