"""The echo filter gives the same text however the reply is cut into streamed pieces."""

from __future__ import annotations

import pytest

from agent.echoes import EchoFilter

REPLY = "&lt;data&gt;\nRevenue <b>rose</b> 8 % & more.\n</question>\n\nNext.\n&lt;/da"


def filtered(pieces: list[str]) -> str:
    echoes = EchoFilter()
    return "".join(echoes.feed(piece) for piece in pieces) + echoes.flush()


def test_fence_tags_go_and_everything_else_stays() -> None:
    assert filtered([REPLY]) == "Revenue <b>rose</b> 8 % & more.\n\nNext.\n&lt;/da"


@pytest.mark.parametrize("cut", range(1, len(REPLY)))
def test_any_cut_into_two_pieces_gives_the_same_text(cut: int) -> None:
    assert filtered([REPLY[:cut], REPLY[cut:]]) == filtered([REPLY])


def test_a_piece_a_character_gives_the_same_text() -> None:
    assert filtered(list(REPLY)) == filtered([REPLY])
