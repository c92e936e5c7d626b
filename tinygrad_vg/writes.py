"""In-place writes, and the values backward needs unchanged.

A vjp reads values saved in the forward pass: its op's inputs or output, as the op declares
(`saves_inputs`, `saves_output` in ops.py). Overwrite one before backward runs and the vjp would
differentiate at the new values without a word. So every in-place write into a tensor's memory is
stamped with the next serial number, on the tensor that owns that memory (`memory_owner`: a view's
or a detached copy's `base`); and when backward reaches a node made before the latest change, it
checks that nothing the node's vjp reads carries a later stamp, and that no input of the node was
rebound by a recorded in-place op since (`Tensor.rebind`: the edge would lead to the new value).
Nodes made after the latest change need no check: a training loop pays one comparison per node.
Duck-typed on the tensors' .base, .written_at, .serial, .op and .inputs; imports nothing of ours.
"""
last_change = 0         # the serial of the latest in-place write or rebinding


def memory_owner(tensor):
    """The tensor whose memory `tensor` uses: its base for a view or a detached copy, else itself."""
    return tensor if tensor.base is None else tensor.base


def stamp(tensor, serial):
    """Mark an in-place write into tensor's memory, made at `serial`."""
    memory_owner(tensor).written_at = serial
    note_change(serial)


def note_change(serial):
    """Remember that values or edges changed at `serial`: backward checks the nodes made before."""
    global last_change
    last_change = serial


def repoint(root, old, new):
    """In root's graph, every edge to `old` now leads to `new`. Only nodes made after old can use
    it, so the walk stops at older ones."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen or node.serial <= old.serial:
            continue
        seen.add(id(node))
        if any(x is old for x in node.inputs):
            node.inputs = tuple(new if x is old else x for x in node.inputs)
        stack.extend(node.inputs)


def refuse_stale(node):
    """Raise if an input of node was rebound after node was made, or if a value node's vjp reads
    was written in place since."""
    op = node.op
    for i, x in enumerate(node.inputs):
        if x.serial > node.serial:
            raise RuntimeError(f"backward: {op.name} used its input {i} (shape {x.shape}) before an in-place "
                               "op changed that tensor, and the graph no longer holds the value it used; "
                               "write t = t + x (a new name for the new value) where the old one is still used")
    read = range(len(node.inputs)) if op.saves_inputs is True else op.saves_inputs or ()
    saved = ([("output", node)] if op.saves_output else []) + [(f"input {i}", node.inputs[i]) for i in read]
    for role, tensor in saved:
        if memory_owner(tensor).written_at > node.serial:
            where = f" in {node.module}" if node.module else ""
            raise RuntimeError(f"backward: {op.name}{where} needs the values of its {role} (shape {tensor.shape}, "
                               f"{tensor.dtype}) as they were in the forward pass, but they were modified in "
                               "place since; run the forward pass again after the change, or change a copy")
