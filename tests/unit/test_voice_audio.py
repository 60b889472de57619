"""Audio backends and the one playback queue."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import wave
from pathlib import Path

import pytest

from controller.config import DEFAULT_CONFIG, ConfigError, load_config
from controller.config.loader import parse_config
from controller.store.eventlog import Envelope
from controller.voice.audio import (
    Pcm,
    VoiceError,
    espeak_available,
    espeak_wav,
    peak,
    read_wav,
    segments_pcm,
    split_segments,
    write_wav,
)
from controller.voice.player import VoicePlayer, announcements

CFG = load_config(DEFAULT_CONFIG)


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng absent (scripts/bootstrap installs it)")
async def test_espeak_says_a_call_in_mandarin(tmp_path: Path) -> None:
    pcm = await espeak_wav("请A零零一号到十二号窗口办理", tmp_path / "a.wav", "cmn")
    assert pcm.width == 2 and pcm.rate > 8000
    seconds = len(pcm.frames) / (pcm.rate * pcm.width * pcm.channels)
    assert 1.5 < seconds < 15
    assert peak(pcm) > 3000  # not silence


def tone(path: Path, ms: int, level: int) -> None:
    fmt = Pcm(1, 2, 8000, b"")
    frames = (level.to_bytes(2, "little", signed=True) * (8 * ms))
    write_wav(path, fmt, frames)


def test_segments_take_the_longest_recording(tmp_path: Path) -> None:
    names = {"请", "A", "零", "一", "号", "到", "十", "二", "窗口", "办理", "办", "再次呼叫"}
    assert split_segments("请A零零一号到十二号窗口办理", names) == [
        "请", "A", "零", "零", "一", "号", "到", "十", "二", "号", "窗口", "办理"]
    assert split_segments("再次呼叫，请A", names) == ["再次呼叫", "，", "请", "A"]
    with pytest.raises(VoiceError, match="B.wav"):
        split_segments("请B", names)


def test_segments_concatenate_with_pauses(tmp_path: Path) -> None:
    for i, name in enumerate(["请", "A", "零", "一", "号"]):
        tone(tmp_path / f"{name}.wav", 100, 1000 * (i + 1))
    pcm = segments_pcm("请A零，一号", tmp_path)
    ms = len(pcm.frames) / 2 / 8
    assert ms == pytest.approx(5 * 100 + 250)
    assert peak(pcm) == 5000
    with wave.open(str(tmp_path / "A.wav"), "wb") as w:  # a segment in another format
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(b"\x00\x01" * 100)
    with pytest.raises(VoiceError, match="format differs"):
        segments_pcm("请A", tmp_path)


def envelope(seq: int, kind: str, **data: object) -> Envelope:
    return Envelope(seq=seq, id=f"id{seq}", ts=0.0, type=kind, data=dict(data))


def test_calls_become_announcements_in_order() -> None:
    found = announcements(CFG, [
        envelope(1, "ticket.issued", number="A001"),
        envelope(2, "ticket.called", number="A001", window=3, ticket_id="t"),
        envelope(3, "ticket.recalled", number="A001", window=3, ticket_id="t"),
        envelope(4, "ticket.completed", number="A001", window=3, ticket_id="t"),
        envelope(5, "ticket.called_back", number="B002", window=12, ticket_id="u"),
    ])
    assert [(a.kind, a.speech) for a in found] == [
        ("called", "请A零零一号到三号窗口办理"),
        ("recalled", "再次呼叫，请A零零一号到三号窗口办理"),
        ("called_back", "请B零零二号到十二号窗口办理"),
    ]


async def test_one_queue_plays_calls_one_after_another(tmp_path: Path) -> None:
    """The player is a real program that logs when it starts and ends each file."""
    for name in "请ABC零一二三号到窗口办理再次呼叫":
        tone(tmp_path / f"{name}.wav", 20, 2000)
    tone(tmp_path / "窗口.wav", 20, 2000)
    tone(tmp_path / "办理.wav", 20, 2000)
    tone(tmp_path / "再次呼叫.wav", 20, 2000)
    log = tmp_path / "played.log"
    script = ("import sys,time,shutil;p=sys.argv[1];"
              f"open({str(log)!r},'a').write('start\\n');time.sleep(0.05);"
              f"open({str(log)!r},'a').write('end\\n')")
    voice = dataclasses.replace(CFG.voice, backend="segments", segments_dir=tmp_path,
                                player=(sys.executable, "-c", script), repeat=2, gap_ms=100)
    cfg = dataclasses.replace(CFG, voice=voice)
    said: list[str] = []
    player = VoicePlayer(cfg, tmp_path / "out", lambda a, p: said.append(a.text))
    task = asyncio.create_task(player.run())
    player.on_events([envelope(1, "ticket.called", number="A001", window=1),
                      envelope(2, "ticket.called", number="B002", window=2),
                      envelope(3, "ticket.recalled", number="A001", window=1)])
    for _ in range(200):
        if len(said) == 3:
            break
        await asyncio.sleep(0.02)
    task.cancel()
    assert said == ["请A001号到1号窗口办理", "请B002号到2号窗口办理", "再次呼叫，请A001号到1号窗口办理"]
    assert log.read_text().split() == ["start", "end"] * 3  # never two at once
    rendered = read_wav(tmp_path / "out" / "announcement.wav")
    assert peak(rendered) == 2000


def test_voice_config_is_checked(tmp_path: Path) -> None:
    import tomllib
    raw = tomllib.loads(DEFAULT_CONFIG.read_text())
    for bad, key in [({"backend": "radio"}, "voice.backend"),
                     ({"template": "请{number}号"}, "voice.template"),
                     ({"repeat": 9}, "voice.repeat"),
                     ({"backend": "segments"}, "voice.segments_dir"),
                     ({"letters": {"a": "x"}}, "voice.letters.a"),
                     ({"volume": 3}, "voice.volume")]:
        with pytest.raises(ConfigError) as err:
            parse_config({**raw, "voice": bad}, DEFAULT_CONFIG)
        assert err.value.key == key
    ok = parse_config({**raw, "voice": {"backend": "segments", "segments_dir": "voice",
                                        "letters": {"A": "诶"}, "player": ["aplay", "-q"]}},
                      DEFAULT_CONFIG)
    assert ok.voice.segments_dir == DEFAULT_CONFIG.parent / "voice"
    assert ok.voice.letters == (("A", "诶"),)


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng absent (scripts/bootstrap installs it)")
async def test_the_espeak_backend_renders_each_call_with_its_repeats(tmp_path: Path) -> None:
    voice = dataclasses.replace(CFG.voice, backend="espeak", repeat=2, gap_ms=500)
    player = VoicePlayer(dataclasses.replace(CFG, voice=voice), tmp_path)
    (a,) = announcements(CFG, [envelope(1, "ticket.recalled", number="F012", window=12)])
    path = await player.render(a)
    once = read_wav(tmp_path / "one.wav")
    twice = read_wav(path)
    assert peak(twice) > 3000
    gap = once.rate * once.width // 2  # 500 ms of samples, in bytes
    assert len(twice.frames) == 2 * (len(once.frames) + gap)
