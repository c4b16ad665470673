"""YAML read with line numbers kept, so configuration errors can say `FILE:LINE: key: problem`.

`compose(text, path)` parses to PyYAML nodes; `locate(node)` turns them into plain values wrapped
in `Located` (value, line, lines of a mapping's keys); `Checker` type-checks values and raises
BertprepError with the file, line and dotted key. Duplicate keys, which PyYAML silently
collapses, are errors here, and so are aliases that expand past MAX_EXPANDED_VALUES values (a
600-byte "billion laughs" file otherwise grows to gigabytes when its aliases are expanded).
"""
import math
from typing import Dict, List, Optional

import yaml
import yaml.reader

from bertprep.errors import BertprepError

MAX_EXPANDED_VALUES = 10000  # a large jobs file has a few hundred values


class Located:
    """A YAML value with the line of its node, and the lines of a mapping's keys."""

    def __init__(self, value, line: int, key_lines: Optional[Dict[str, int]] = None):
        self.value = value
        self.line = line
        self.key_lines = key_lines or {}


MAX_DEPTH = 50  # a jobs file nests four or five levels deep


def compose(text: str, path: str):
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # refuses a NUL or other control character here
        node = loader.get_single_node()
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        character = chr(error.character) if isinstance(error.character, int) else error.character
        raise BertprepError("%s:%d: invalid YAML: character %r (offset %d) is not allowed in a jobs file"
                            % (path, line, character, error.position)) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise BertprepError("%s:%d: invalid YAML: %s" % (path, line, problem)) from None
    except RecursionError:  # the parser recurses once per level: `[[[[...` thousands deep
        raise BertprepError("%s: invalid YAML: nested deeper than %d levels" % (path, MAX_DEPTH)) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is not None:
        check_depth(node, path)
        check_expansion(node, path)
    return node


def check_depth(root, path: str, limit: int = MAX_DEPTH) -> None:
    """Refuse nesting deeper than `limit` (without recursion, so any depth gets this one line)."""
    stack = [(root, 1)]
    seen = set()
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise BertprepError("%s:%d: invalid YAML: nested deeper than %d levels"
                                % (path, node.start_mark.line + 1, limit))
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in node.value for child in pair)


def check_expansion(root, path: str, limit: int = MAX_EXPANDED_VALUES) -> None:
    """Refuse a document whose aliases expand to more than `limit` values, or refer to themselves.

    An alias is the same node object in several places; sizes are counted once per node (memoized),
    so the check is linear in the file even when the expansion would be exponential.
    """
    sizes = {}
    open_nodes = set()

    def size(node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise BertprepError("%s:%d: a YAML alias refers to a value that contains it"
                                % (path, node.start_mark.line + 1))
        open_nodes.add(key)
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        total = 1
        for child in children:
            total += size(child)
            if total > limit:
                raise BertprepError("%s:%d: YAML aliases expand to more than %d values; write the values out "
                                    "instead of nesting aliases" % (path, node.start_mark.line + 1, limit))
        open_nodes.discard(key)
        sizes[key] = total
        return total

    size(root)


def locate(node, path: str, constructor) -> Located:
    """Turn a composed node into plain values, keeping lines; duplicate keys are an error."""
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)
        items, key_lines = {}, {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                # YAML 1.1 reads `off` as false, `012` as 10, `0x1A` as 26: the name would silently change
                source = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if isinstance(key, (int, float, bool)) and source is not None:
                    raise BertprepError("%s:%d: key %s is read by YAML as %s %r, not as text; quote it (\"%s\")"
                                        % (path, key_node.start_mark.line + 1, source, kind(key).split()[0],
                                           key, source))
                raise BertprepError("%s:%d: mapping keys must be plain text" % (path, key_node.start_mark.line + 1))
            if key in items:
                raise BertprepError("%s:%d: duplicate key %r (first at line %d)"
                                    % (path, key_node.start_mark.line + 1, key, key_lines[key]))
            key_lines[key] = key_node.start_mark.line + 1
            items[key] = locate(value_node, path, constructor)
        return Located(items, line, key_lines)
    if isinstance(node, yaml.SequenceNode):
        return Located([locate(item, path, constructor) for item in node.value], line)
    return Located(constructor.construct_object(node, deep=True), line)


def plain(located: Located):
    if isinstance(located.value, dict):
        return {key: plain(value) for key, value in located.value.items()}
    if isinstance(located.value, list):
        return [plain(item) for item in located.value]
    return located.value


class Checker:
    def __init__(self, path: str):
        self.path = path

    def fail(self, line: int, key: str, message: str):
        raise BertprepError("%s:%d: %s: %s" % (self.path, line, key, message))

    def mapping(self, located: Located, key: str) -> Dict[str, Located]:
        if not isinstance(located.value, dict):
            self.fail(located.line, key, "expected a mapping, got %s" % kind(located.value))
        return located.value

    def known_keys(self, mapping: Located, allowed, key: str):
        for name, line in mapping.key_lines.items():
            if name not in allowed:
                self.fail(line, "%s.%s" % (key, name) if key else name,
                          "unknown key (allowed: %s)" % ", ".join(sorted(allowed)))

    def string(self, located: Located, key: str, allow_empty=False) -> str:
        if not isinstance(located.value, str) or (not allow_empty and not located.value.strip()):
            self.fail(located.line, key, "expected text, got %s" % kind(located.value))
        return located.value

    def number(self, located: Located, key: str, integer=False, minimum=0, maximum=None):
        value = located.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            self.fail(located.line, key, "expected %s, got %s" % ("an integer" if integer else "a number", kind(value)))
        if not math.isfinite(value):
            self.fail(located.line, key, "must be a finite number, got %s" % value)
        if value < minimum:
            self.fail(located.line, key, "must be at least %s, got %s" % (minimum, value))
        if maximum is not None and value > maximum:
            self.fail(located.line, key, "must be at most %s, got %s" % (maximum, value))
        return value

    def boolean(self, located: Located, key: str) -> bool:
        if not isinstance(located.value, bool):
            self.fail(located.line, key, "expected true or false, got %s" % kind(located.value))
        return located.value

    def string_list(self, located: Located, key: str) -> List[str]:
        if isinstance(located.value, str):
            return [located.value]
        if not isinstance(located.value, list):
            self.fail(located.line, key, "expected text or a list of text, got %s" % kind(located.value))
        return [self.string(item, "%s[%d]" % (key, index)) for index, item in enumerate(located.value)]


def kind(value) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", bool: "true/false", str: "text %r" % value}.get(
        type(value), "%s %r" % (type(value).__name__, value))
