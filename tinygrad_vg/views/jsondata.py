"""Results as JSON: plain data that any reader parses, with no NaN or Infinity literals."""
import json
import math

import numpy as np


def json_ready(value):
    """Plain JSON data: numpy numbers and arrays become numbers and lists; non-finite floats, which
    JSON has no literal for, become the strings "inf", "-inf" and "nan"."""
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isfinite(value):
            return value
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    return value


def to_json(result):
    return json.dumps(json_ready(result), allow_nan=False)
