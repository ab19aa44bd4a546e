"""The batch scoring job as a plain entry point: `python -m training.score_job [--as-of YYYY-MM-DD]`.

Runs the same code as `vsentinel score`; submit it to a cluster with
`ray job submit --working-dir . -- python -m training.score_job` (an external scheduler can do the same).
"""

from __future__ import annotations

import typer

from cluster.cli_model import score_command


def main() -> None:
    typer.run(score_command)


if __name__ == "__main__":
    main()
