"""scikit-learn references for the rps benchmarks (run with the project venv: .rps/venv/bin/python).

  fit-score  --train T.parquet --holdout H.parquet --config C.json --out O.json
      Fits each variant of C.json["variants"] once per seed on the training rows, predicts the
      holdout rows; writes {variant: {seeds: [...], fit_seconds: [...], predictions: [[...] per seed]}}.
  log-model  --train T.parquet --config C.json --tracking-uri URI --artifact-location URI --out O.json
      Fits one RandomForestRegressor and logs it with mlflow.sklearn.log_model to a local store
      (e.g. sqlite:///tmp/x/mlflow.db + file:///tmp/x/artifacts); writes {model_uri, ...}.

Parquet files hold the feature columns (in model order) plus "y" (the label) in T.
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
from sklearn.ensemble import BaggingRegressor, RandomForestRegressor
from sklearn.tree import DecisionTreeRegressor


def make_model(variant: dict, seed: int, n_jobs: int):
    kind = variant.get("kind", "random_forest")
    if kind == "random_forest":
        return RandomForestRegressor(
            n_estimators=variant["n_estimators"],
            max_depth=variant["max_depth"],
            min_samples_leaf=variant.get("min_samples_leaf", 1),
            min_samples_split=variant.get("min_samples_split", 2),
            max_features=variant["max_features"],
            max_samples=variant.get("max_samples"),
            bootstrap=True,
            random_state=seed,
            n_jobs=n_jobs,
        )
    if kind == "bagged_trees":
        # One feature subset per tree (as ml-random-forest does), not per split.
        tree = DecisionTreeRegressor(
            max_depth=variant["max_depth"],
            min_samples_leaf=variant.get("min_samples_leaf", 1),
            min_samples_split=variant.get("min_samples_split", 2),
        )
        return BaggingRegressor(
            estimator=tree,
            n_estimators=variant["n_estimators"],
            max_samples=variant["max_samples"],
            max_features=variant["max_features"],
            bootstrap=True,
            bootstrap_features=False,
            random_state=seed,
            n_jobs=n_jobs,
        )
    raise ValueError(f"unknown variant kind {kind!r}")


def fit_score(args) -> dict:
    config = json.load(open(args.config))
    features = config["features"]
    train = pd.read_parquet(args.train)
    holdout = pd.read_parquet(args.holdout)
    X, y, H = train[features], train["y"].to_numpy(), holdout[features]
    out = {}
    for name, variant in config["variants"].items():
        fits, preds = [], []
        for seed in config["seeds"]:
            model = make_model(variant, seed, config.get("n_jobs", 2))
            started = time.perf_counter()
            model.fit(X, y)
            fits.append(time.perf_counter() - started)
            preds.append(model.predict(H).tolist())
        out[name] = {"seeds": config["seeds"], "fit_seconds": fits, "predictions": preds}
    return out


def log_model(args) -> dict:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    config = json.load(open(args.config))
    features = config["features"]
    train = pd.read_parquet(args.train)
    X, y = train[features], train["y"].to_numpy()
    model = make_model(config["variant"], config["seeds"][0], config.get("n_jobs", 2))
    started = time.perf_counter()
    model.fit(X, y)
    fit_seconds = time.perf_counter() - started
    model.set_params(n_jobs=1)  # serving: one process, one thread, like rps serve
    mlflow.set_tracking_uri(args.tracking_uri)
    if mlflow.get_experiment_by_name("rps-bench") is None:
        mlflow.create_experiment("rps-bench", artifact_location=args.artifact_location)
    mlflow.set_experiment("rps-bench")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X.head(5), model.predict(X.head(5))),
            input_example=X.head(1),
            # MLflow 3 saves with skops; we built this forest ourselves, so its tree type is trusted.
            skops_trusted_types=["sklearn.tree._tree.Tree"],
        )
    return {
        "model_uri": info.model_uri,
        "run_id": run.info.run_id,
        "fit_seconds": fit_seconds,
        "mlflow": mlflow.__version__,
        "n_nodes": int(sum(t.tree_.node_count for t in model.estimators_)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["fit-score", "log-model", "versions"])
    parser.add_argument("--train")
    parser.add_argument("--holdout")
    parser.add_argument("--config")
    parser.add_argument("--tracking-uri")
    parser.add_argument("--artifact-location")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.command == "versions":
        import mlflow
        import sklearn

        result = {"sklearn": sklearn.__version__, "mlflow": mlflow.__version__, "pandas": pd.__version__}
    elif args.command == "fit-score":
        result = fit_score(args)
    else:
        result = log_model(args)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f)
    # fit-score results are large (predictions): the caller reads --out; stdout gets a short summary.
    print(json.dumps({"ok": True} if args.command == "fit-score" else result))


if __name__ == "__main__":
    main()
