import pytest

from workers.runs.structured_output import check_answer

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperature_c": {"type": "integer"}},
    "required": ["city", "temperature_c"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("text", "schema", "json_mode", "value", "error"),
    [
        (
            '{"city": "Oslo", "temperature_c": 3}',
            SCHEMA,
            False,
            {"city": "Oslo", "temperature_c": 3},
            None,
        ),
        ('{"city": "Oslo"}', SCHEMA, False, None, "<root>: 'temperature_c' is a required property"),
        (
            '{"city": "Oslo", "temperature_c": "3"}',
            SCHEMA,
            False,
            None,
            "temperature_c: '3' is not of type 'integer'",
        ),
        ("Oslo is cold", SCHEMA, False, None, "answer is not valid JSON"),
        ('{"any": 1}', None, True, {"any": 1}, None),
        ("[1, 2]", None, True, None, "JSON mode answer is not an object"),
    ],
)
def test_check_answer(text, schema, json_mode, value, error):
    checked = check_answer(text, schema, json_mode=json_mode)
    assert checked.value == value
    if error is None:
        assert checked.error is None
    else:
        assert error in checked.error
