#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/corpus/<target>/ and the
dictionaries under fuzz/dict/. Deterministic: run it again after changing
it and commit the result. Request bodies are protobuf encoded by hand
(field numbers from proto/IM.*.proto), so no protobuf package is needed.
"""

import re
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, value):
    """One field: ints are varints, bytes/str length-delimited, lists
    repeat the field."""
    if isinstance(value, list):
        return b"".join(field(num, v) for v in value)
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def msg(*fields):
    return b"".join(field(n, v) for n, v in fields)


AB = (20, b"AB")
# (name, index in wire::command::COMMANDS, CID name, body)
REQUESTS = [
    ("login_ok", 0, "CID_OTHER_VALIDATE_REQ",
     msg((1, "zhangyl"), (2, "e10adc3949ba59abbe56e057f20f883e"), AB)),
    ("login_bad", 0, "CID_OTHER_VALIDATE_REQ", msg((1, "test"), (2, "x"))),
    ("push_shield", 1, "CID_LOGIN_REQ_PUSH_SHIELD", msg((1, 1), (2, 1), AB)),
    ("query_push_shield", 2, "CID_LOGIN_REQ_QUERY_PUSH_SHIELD", msg((1, 2), AB)),
    ("recent_sessions", 3, "CID_BUDDY_LIST_RECENT_CONTACT_SESSION_REQUEST",
     msg((1, 1), (2, 0), AB)),
    ("remove_session", 4, "CID_BUDDY_LIST_REMOVE_SESSION_REQ",
     msg((1, 1), (2, 1), (3, 2), AB)),
    ("users_info", 5, "CID_BUDDY_LIST_USER_INFO_REQUEST",
     msg((1, 1), (2, [1, 2, 3, 99]), AB)),
    ("all_users", 6, "CID_BUDDY_LIST_ALL_USER_REQUEST", msg((1, 1), (2, 0), AB)),
    ("departments", 7, "CID_BUDDY_LIST_DEPARTMENT_REQUEST", msg((1, 1), (2, 0), AB)),
    ("sign_info", 8, "CID_BUDDY_LIST_CHANGE_SIGN_INFO_REQUEST",
     msg((1, 2), (2, "新签名"), AB)),
    ("device_token", 9, "CID_LOGIN_REQ_DEVICETOKEN",
     msg((1, 3), (2, "tok-3"), (3, 0x11), AB)),
    ("get_device_tokens", 10, "CID_OTHER_GET_DEVICE_TOKEN_REQ", msg((1, [1, 2, 3]), AB)),
    ("group_shield", 11, "CID_GROUP_SHIELD_GROUP_REQUEST",
     msg((1, 1), (2, 1), (3, 1), AB)),
    ("get_group_shield", 12, "CID_OTHER_GET_SHIELD_REQ", msg((1, 1), (2, [1, 2]), AB)),
    ("has_offline", 13, "CID_FILE_HAS_OFFLINE_REQ", msg((1, 2), AB)),
    ("add_offline", 14, "CID_FILE_ADD_OFFLINE_REQ",
     msg((1, 2), (2, 1), (3, "task-2"), (4, "b.bin"), (5, 7))),
    ("del_offline", 15, "CID_FILE_DEL_OFFLINE_REQ", msg((1, 1), (2, 2), (3, "task-1"))),
    ("msg_single", 16, "CID_MSG_DATA",
     msg((1, 1), (2, 2), (3, 0), (4, 1700000001), (5, 1), (6, "hello"), AB)),
    ("msg_group", 16, "CID_MSG_DATA",
     msg((1, 2), (2, 1), (3, 0), (4, 1700000002), (5, 0x11), (6, "hey"), AB)),
    ("msg_audio", 16, "CID_MSG_DATA",
     msg((1, 1), (2, 2), (3, 0), (4, 1700000003), (5, 2), (6, b"\0\0\0\x05abcd"), AB)),
    ("msg_list", 17, "CID_MSG_LIST_REQUEST",
     msg((1, 1), (2, 1), (3, 2), (4, 0), (5, 10), AB)),
    ("unread", 18, "CID_MSG_UNREAD_CNT_REQUEST", msg((1, 2), AB)),
    ("read_ack", 19, "CID_MSG_READ_ACK", msg((1, 2), (2, 1), (3, 2), (4, 1))),
    ("msg_by_id", 20, "CID_MSG_GET_BY_MSG_ID_REQ",
     msg((1, 1), (2, 2), (3, 1), (4, [1, 2, 3]), AB)),
    ("latest_id", 21, "CID_MSG_GET_LATEST_MSG_ID_REQ", msg((1, 1), (2, 1), (3, 2), AB)),
    ("group_list", 22, "CID_GROUP_NORMAL_LIST_REQUEST", msg((1, 1), AB)),
    ("group_info", 23, "CID_GROUP_INFO_REQUEST",
     msg((1, 1), (2, [msg((1, 1), (2, 0)), msg((1, 2), (2, 0))]), AB)),
    ("group_create", 24, "CID_GROUP_CREATE_REQUEST",
     msg((1, 1), (2, 2), (3, "new"), (4, ""), (5, [1, 2, 3]), AB)),
    ("group_change", 25, "CID_GROUP_CHANGE_MEMBER_REQUEST",
     msg((1, 1), (2, 1), (3, 1), (4, [3]), AB)),
    ("heartbeat", 26, "CID_OTHER_HEARTBEAT", b""),
]

# `call` JSON for some of the requests above.
JSON = [
    ("login", "CID_OTHER_VALIDATE_REQ",
     '{"user_name":"zhangyl","password":"e10adc3949ba59abbe56e057f20f883e","attach_data":"QUI="}'),
    ("msg", "0x0301",
     '{"from_user_id":1,"to_session_id":2,"msg_id":0,"create_time":1,'
     '"msg_type":"MSG_TYPE_SINGLE_TEXT","msg_data":"aGk="}'),
    ("group_info", "CID_GROUP_INFO_REQUEST",
     '{"user_id":1,"group_version_list":[{"group_id":1,"version":0}]}'),
    ("group_create", "1029",
     '{"user_id":1,"group_type":2,"group_name":"n","group_avatar":"",'
     '"member_id_list":[1,2]}'),
    ("device_token", "CID_LOGIN_REQ_DEVICETOKEN",
     '{"user_id":1,"device_token":"t","client_type":"CLIENT_TYPE_IOS"}'),
]


def header(length, cmd, seq, service=7, version=1):
    return (length.to_bytes(4, "big") + version.to_bytes(2, "big") + b"\0\0"
            + service.to_bytes(2, "big") + cmd.to_bytes(2, "big")
            + seq.to_bytes(2, "big") + b"\0\0")


def frame(cmd, seq, body):
    return header(16 + len(body), cmd, seq) + body


CMD_IDS = {
    "CID_OTHER_VALIDATE_REQ": 0x0703, "CID_MSG_DATA": 0x0301,
    "CID_GROUP_INFO_REQUEST": 0x0403, "CID_OTHER_HEARTBEAT": 0x0701,
}


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def dispatch():
    for name, index, _, body in REQUESTS:
        write("dispatch", name, bytes([index]) + body)
    # A raw command id without a handler.
    write("dispatch", "unknown_cmd", b"\xff\x09\x99" + msg((1, 1)))


def frames():
    by_name = {n: b for n, _, _, b in REQUESTS}
    stream = (frame(0x0703, 1, by_name["login_ok"]) + frame(0x0701, 2, b"")
              + frame(0x0301, 3, by_name["msg_single"])
              + frame(0x0403, 4, by_name["group_info"]))
    # byte 0: limit (0 = 16 MiB), byte 1: cut count, then cut lengths
    write("frame_decoder", "four_frames_uncut", b"\0\0" + stream)
    write("frame_decoder", "four_frames_cut", b"\0\x05\x03\x0e\x01\x40\x00" + stream)
    write("frame_decoder", "partial_tail", b"\0\x01\x10" + stream[:-5])
    write("frame_decoder", "too_short", b"\0\x02\x02\x02" + frame(0x0701, 1, b"")
          + b"\0\0\0\x08" + b"\0" * 12)
    write("frame_decoder", "too_long", b"\x08\x01\x03" + frame(0x0701, 1, b"")
          + frame(0x0703, 2, by_name["login_ok"]))


def call_json():
    index = {cid: i for _, i, cid, _ in REQUESTS}
    for name, cmd, text in JSON:
        write("call_json", "encode_" + name, bytes([0]) + f"{cmd}\n{text}".encode())
    # decode: the fallback command's reply type
    for name, i, _, body in REQUESTS[:: 3]:
        write("call_json", "decode_" + name, bytes([i << 1 | 1]) + body)
    # encode with no command name: the selector's command
    write("call_json", "encode_by_selector",
          bytes([index["CID_MSG_UNREAD_CNT_REQUEST"] << 1]) + b'\n{"user_id":5}')


def configs():
    legacy = (ROOT / "crates/tt-dbproxy/tests/fixtures/dbproxyserver.conf").read_bytes()
    write("config_legacy", "dbproxyserver.conf", legacy)
    write("config_legacy", "crlf.conf", legacy.replace(b"\n", b"\r\n"))
    write("config_legacy", "minimal.conf",
          b"ListenIP=127.0.0.1\nListenPort=10600\nThreadNum=4\nMsfsSite=http://m\n"
          b"DBInstances=\nCacheInstances=\naesKey=12345678901234567890123456789012\n"
          b"AdminListen=127.0.0.1:10601\n")
    toml = (ROOT / "tt-dbproxy.toml").read_bytes()
    write("config_toml_env", "tt-dbproxy.toml", toml)
    write("config_toml_env", "empty_with_env",
          b"\0TT_DBPROXY_LISTEN=127.0.0.1:1,[::1]:2\nWORKERS=3\nLOG_LEVEL=debug\n")
    write("config_toml_env", "mysql",
          b'[storage]\nbackend = "mysql"\n[mysql]\nprimary = "mysql://u:p@h:1/db"\n'
          b'replicas = ["mysql://u:p@r:2/db"]\n[redis]\nurl = "redis://h:3/1"\n'
          b"\0TT_DBPROXY_MAX_CONNECTIONS=-1\n")
    write("config_toml_env", "bad_types",
          b'[server]\nlisten = 5\nworkers = "x"\n[nope]\na = 1\ntop = 1\n')


def dictionary():
    keys = (ROOT / "crates/tt-dbproxy/src/config/keys.rs").read_text()
    words = set()
    for kind, value in re.findall(r'\b(key|env|legacy): "([^"]+)"', keys):
        if kind == "key":
            section, name = value.split(".", 1)
            words.update([f"[{section}]", name])
        elif kind == "env":
            words.update([value, value.removeprefix("TT_DBPROXY_")])
        else:
            # "ListenIP + ListenPort", "<db>_maxconncnt", "teamtalk_master_*"
            words.update(w for w in re.split(r"[ +<>*]+|\(.*", value)
                         if re.fullmatch(r"[A-Za-z_]+", w))
    words.update(["\\x00", "=", "\\x0a", "embedded", "mysql", "mysql://", "redis://",
                  "http://", "127.0.0.1:10600", "[::1]:1", "_host", "_port",
                  "_dbname", "_username", "_password", "_db", "off"])
    d = FUZZ / "dict"
    d.mkdir(exist_ok=True)
    lines = [f'"{w}"' for w in sorted(words)]
    (d / "config.dict").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    dispatch()
    frames()
    call_json()
    configs()
    dictionary()
