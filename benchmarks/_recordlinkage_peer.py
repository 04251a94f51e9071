"""The recordlinkage peer of bench_fuzzy_dedup.py, run in its own virtual environment
(recordlinkage 0.16 pins pandas<3). Reads the benchmark's CSV, prints one JSON line.

Same preprocessing and comparable blocking as ours: multi-pass blocking on email, phone (last
10 digits), per-token metaphone of the full name, date of birth, soundex(first name)+birth
year, plus sorted neighbourhoods on email and on last+first name; comparisons on full name
(Jaro-Winkler), email (Levenshtein), phone, date of birth, city, company; ECM (unsupervised
Fellegi-Sunter EM on binary features) classifies; clusters = connected components of matches.
"""

import json
import resource
import sys
import time

import jellyfish
import numpy as np
import pandas as pd
import recordlinkage
from recordlinkage.index import Block, SortedNeighbourhood


def main() -> None:
    path, out = sys.argv[1], sys.argv[2]
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    started, cpu = time.perf_counter(), time.process_time()
    df = pd.DataFrame(index=frame.index)

    def norm(s):
        return s.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii").str.lower().str.replace(r"[^\w\s@.]+", " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()

    df["first"] = norm(frame["first_name"])
    df["last"] = norm(frame["last_name"])
    df["full"] = (df["first"].fillna("") + " " + df["last"].fillna("")).str.strip()
    df["email"] = frame["email"].str.strip().str.lower()
    df["phone"] = frame["phone"].str.replace(r"\D", "", regex=True).str[-10:]
    df["dob"] = frame["dob"]
    df["year"] = frame["dob"].str[:4]
    df["city"] = norm(frame["city"])
    df["company"] = norm(frame["company"])
    df["name_key"] = df["full"].map(lambda t: " ".join(jellyfish.metaphone(x) for x in sorted(t.split())) if isinstance(t, str) and t else None)
    df["first_sx"] = df["first"].map(lambda t: jellyfish.soundex(t) if isinstance(t, str) and t else None)
    df["last_first"] = (df["last"].fillna("") + " " + df["first"].fillna("")).str.strip()

    indexer = recordlinkage.Index()
    indexer.add(Block("email"))
    indexer.add(Block("phone"))
    indexer.add(Block("name_key"))
    indexer.add(Block("dob"))
    indexer.add(Block(["first_sx", "year"]))
    indexer.add(SortedNeighbourhood("email", window=7))
    indexer.add(SortedNeighbourhood("last_first", window=7))
    pairs = indexer.index(df)
    indexed = time.perf_counter()

    compare = recordlinkage.Compare(n_jobs=1)
    compare.string("full", "full", method="jarowinkler", threshold=0.85, label="full")
    compare.string("email", "email", method="levenshtein", threshold=0.85, label="email")
    compare.exact("phone", "phone", label="phone")
    compare.exact("dob", "dob", label="dob")
    compare.exact("city", "city", label="city")
    compare.string("company", "company", method="jarowinkler", threshold=0.85, label="company")
    features = compare.compute(pairs, df)
    compared = time.perf_counter()

    ecm = recordlinkage.ECMClassifier(binarize=None)
    matches = ecm.fit_predict(features)
    classified = time.perf_counter()

    left = matches.get_level_values(0).to_numpy()
    right = matches.get_level_values(1).to_numpy()
    # clusters: connected components (union-find) of matched pairs
    parent = np.arange(len(frame))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(left.tolist(), right.tolist(), strict=False):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    labels = np.array([find(i) for i in range(len(frame))])
    finished, cpu = time.perf_counter(), time.process_time() - cpu
    np.save(out, labels)
    np.save(out.replace(".npy", "_pairs.npy"), np.stack([left, right], axis=1) if len(left) else np.zeros((0, 2), dtype=np.int64))
    print(json.dumps({
        "seconds": finished - started,
        "cpu_seconds": cpu,
        "stages": {"index": indexed - started, "compare": compared - indexed, "ecm": classified - compared, "cluster": finished - classified},
        "candidate_pairs": len(pairs),
        "matched_pairs": len(matches),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "versions": {"recordlinkage": recordlinkage.__version__, "pandas": pd.__version__},
    }))


if __name__ == "__main__":
    main()
