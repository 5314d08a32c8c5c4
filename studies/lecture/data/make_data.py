"""Write the generated data sets of the lecture studies (run from anywhere; deterministic).

``abs2d.csv``: y = |x1| + |x2| + noise, x uniform on [-2, 2]^2 (600 rows). A convex
piecewise-linear target: two PReLU units (slope -1) or two Maxout units (2 pieces) fit it
exactly, two ReLU units cannot (each sees one side of one coordinate).
"""

from pathlib import Path

import numpy as np


def abs2d(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    y = np.abs(X).sum(axis=1) + rng.normal(0.0, 0.1, size=n)
    return X, y


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    X, y = abs2d()
    rows = ["x1,x2,y"] + [f"{a:.6f},{b:.6f},{t:.6f}" for (a, b), t in zip(X, y)]
    (here / "abs2d.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
