"""The processes of a benchmarked command: it and its descendants (Beam's workers are its children)."""
from typing import List

import psutil


def process_tree(root_pid: int) -> List[psutil.Process]:
    """`root_pid` and every descendant still alive; empty once the root has gone."""
    try:
        root = psutil.Process(root_pid)
        return [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
