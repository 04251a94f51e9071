"""The splink peer of bench_fuzzy_dedup.py, run in its own virtual environment (splink 5 with
the DuckDB backend; pandas 3 and duckdb pinned there, not in the project). Reads the
benchmark's Parquet file, prints one JSON line.

Same blocking rules as ours (PERSON_FUZZY): the parent writes each rule's key, computed by our
``keys.rule_codes`` (email, phone digits, per-token metaphone of the full name, date of birth,
soundex(first name) + birth year), as ``key_<k>`` columns; splink blocks on ``block_on`` of
those columns. So the pairs splink scores are exactly the blocked pairs (splink has no sorted
neighbourhood and no block cap: an oversized block is expanded in full). The key computation
is outside splink's timed section, which flatters splink slightly.

Comparisons, splink's library ones for these fields: forename/surname (exact, swapped,
Jaro-Winkler 0.92/0.88 on both, either exact), email (exact, username, Jaro-Winkler), phone
digits (Levenshtein 1, 2), date of birth (exact, Levenshtein 1 on the text, within 1 month /
1 year / 10 years), city exact, company Jaro-Winkler 0.9/0.7. Training as splink's docs do
it: prior from deterministic rules, u by random sampling (its default 1e6 pairs), m by EM in two sessions (blocked
on dob, then on email, so each comparison is trained in at least one). Predictions at the
threshold our default uses (0.9), clusters = splink's connected components at it.
"""

import json
import logging
import resource
import sys
import time

import numpy as np
import pandas as pd
import splink
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def _norm(series: pd.Series) -> pd.Series:
    out = (
        series.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii").str.lower()
        .str.replace(r"[^\w\s@.]+", " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
    )
    return out.where(out != "", None)


def main() -> None:
    path, out = sys.argv[1], sys.argv[2]
    threshold = float(sys.argv[3]) if len(sys.argv) > 3 else 0.9
    frame = pd.read_parquet(path)
    keys = [c for c in frame.columns if c.startswith("key_")]
    started, cpu = time.perf_counter(), time.process_time()
    df = pd.DataFrame({"unique_id": np.arange(len(frame), dtype=np.int64)})
    df["first_name"] = _norm(frame["first_name"])
    df["surname"] = _norm(frame["last_name"])
    df["email"] = frame["email"].str.strip().str.lower()
    phone = frame["phone"].str.replace(r"\D", "", regex=True).str[-10:]
    df["phone"] = phone.where(phone != "", None)
    df["dob"] = frame["dob"]
    df["city"] = _norm(frame["city"])
    df["company"] = _norm(frame["company"])
    for key in keys:
        df[key] = frame[key]
    # the year+soundex rule is two terms in ours; its key column already combines them
    db_api = DuckDBAPI()
    table = db_api.register(df, dataset_display_name="customers")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "surname"),
            cl.EmailComparison("email"),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("city"),
            cl.JaroWinklerAtThresholds("company", [0.9, 0.7]),
        ],
        blocking_rules_to_generate_predictions=[block_on(key) for key in keys],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(table, settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob"), block_on("email")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    trained = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    predicted = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    table_out = clusters.as_duckdbpyrelation().select("unique_id, cluster_id").df()
    finished, cpu = time.perf_counter(), time.process_time() - cpu
    labels = np.empty(len(frame), dtype=np.int64)
    labels[table_out["unique_id"].to_numpy()] = pd.factorize(table_out["cluster_id"])[0]
    np.save(out, labels)
    matched = predictions.as_duckdbpyrelation().aggregate("count(*)").fetchall()[0][0]  # after the timed part
    print(json.dumps({
        "seconds": finished - started,
        "cpu_seconds": cpu,  # all threads (DuckDB's included)
        "stages": {"train": trained - started, "predict": predicted - trained, "cluster": finished - predicted},
        "matched_pairs": int(matched),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "versions": {"splink": splink.__version__, "duckdb": __import__("duckdb").__version__, "pandas": pd.__version__},
    }))


if __name__ == "__main__":
    main()
