"""What the fine-tuning jobs' options share: the --labels option (a list, or a file of labels)."""
from typing import List, Optional

from bertprep.errors import BertprepError


def read_labels_option(value: Optional[str]) -> Optional[List[str]]:
    """`--labels a,b,c`, or a file path (local or gs://) with one label a line; None when not given."""
    if not value:
        return None
    from bertprep.io import formats, fs

    if "," not in value and fs.exists(value):

        labels = [item.value.strip() for item in formats.iter_text_lines(value)
                  if isinstance(item, formats.Record) and item.value.strip()]
        source = value
    else:
        labels = [label.strip() for label in value.split(",") if label.strip()]
        source = "--labels"
    if not labels:
        raise BertprepError("%s gives no labels" % source)
    if len(set(labels)) != len(labels):
        raise BertprepError("%s repeats a label: %s" % (source, ", ".join(labels)))
    return labels
