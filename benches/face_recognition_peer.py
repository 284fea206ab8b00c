"""The peer of benches/vs_face_recognition.sh: the Python face_recognition package (dlib HOG
detector, upsample 1; dlib ResNet encodings; tolerance 0.6, its defaults) on the frames
clearshot sampled, and the recall of both tools against the bench clip's shot table.

  face_recognition_peer.py enroll OUT.npz "NAME=PHOTO" ...
      One encoding per photo (exactly one face each), like `clearshot gallery add`.
  face_recognition_peer.py frames REPORT.json FRAMES.txt
      The frames clearshot analysed, one index a line, from its JSON report (see frames()).
  face_recognition_peer.py scan GALLERY.npz CLIP FRAMES.txt OUT.json
      Decodes those frames with ffmpeg (piped rgb24) and names each face found on them.
  face_recognition_peer.py compare CLEARSHOT.json PEER.json MAKE_BENCH_CLIP.sh
      Recall and false identities of both, as lines of key=value for the bench script.

Runs in the venv of scripts/requirements-face-recognition.txt (numpy, face_recognition).
"""

import json
import math
import re
import resource
import subprocess
import sys
import time

TOLERANCE = 0.6  # face_recognition's default (compare_faces)
UPSAMPLE = 1  # face_locations' default

# What each shot setup of scripts/make_bench_clip.sh shows (photo|crop -> who). A setup
# missing here stops the bench, so a changed clip cannot be scored against a stale table.
SHOWS = {
    "obama3.jpg|1100:1100:180:40": "Barack Obama",
    "biden.jpg|930:1000:40:0": "Joe Biden",
    # Eileen Collins (scikit-image's astronaut photo): a real face, not enrolled.
    "astronaut.png|512:512:0:0": "unenrolled",
    "obama.jpg|910:1000:0:0": "Barack Obama",
    # The top-left corner of obama3.jpg: the chandelier, no face.
    "obama3.jpg|560:315:0:0": "no face",
    "biden.jpg|970:1400:0:0": "Joe Biden",
}
SHOT_FRAMES = 125  # make_bench_clip.sh: a new shot every 5 s at 25 fps


def die(msg):
    sys.exit(f"face_recognition_peer.py: error: {msg}")


def enroll(out, pairs):
    import face_recognition as fr
    import numpy as np

    names, encodings = [], []
    for pair in pairs:
        name, _, path = pair.partition("=")
        img = fr.load_image_file(path)
        boxes = fr.face_locations(img, number_of_times_to_upsample=UPSAMPLE, model="hog")
        if len(boxes) != 1:
            die(f"{path}: {len(boxes)} faces found, need exactly one to enroll")
        names.append(name)
        encodings.append(fr.face_encodings(img, known_face_locations=boxes)[0])
    np.savez(out, names=np.array(names), encodings=np.array(encodings))


def frames(report_path, out):
    """The frames clearshot analysed: each shot of its JSON report lists them (`sampled`).
    Checked against the per-shot and per-file counts, and every frame a finding names (first,
    last, best) must be among them."""
    report = json.load(open(report_path))
    settings = report["settings"]
    if settings["every_frame"] or settings["range"] is not None:
        die("the report is of an every-frame or ranged scan; the bench expects a default scan")
    (f,) = report["files"]
    picks = []
    for shot in f["shots"]:
        mine = shot.get("sampled", [])
        if len(mine) != shot["frames_sampled"]:
            die(f"shot {shot['index']}: {len(mine)} frames listed, {shot['frames_sampled']} sampled")
        picks += mine
    if len(picks) != f["frames_sampled"] or picks != sorted(set(picks)):
        die(f"{len(picks)} frames listed (in order, once each?), {f['frames_sampled']} sampled")
    named = {x[k] for x in f["findings"] for k in ("first_frame", "last_frame", "best_frame")}
    if not named <= set(picks):
        die(f"frames {sorted(named - set(picks))} of clearshot's findings are not among its samples")
    with open(out, "w") as fh:
        fh.write("".join(f"{i}\n" for i in picks))


def probe(clip):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", clip], check=True, capture_output=True, text=True).stdout
    w, h = out.strip().split(",")
    return int(w), int(h)


def scan(gallery, clip, frames_path, out):
    import face_recognition as fr
    import numpy as np

    g = np.load(gallery)
    names, known = list(g["names"]), g["encodings"]
    picks = [int(line) for line in open(frames_path) if line.strip()]
    w, h = probe(clip)
    # ffmpeg decodes every frame (H.264 needs them) and converts only the selected ones. Its
    # expression parser refuses a sum of more than ~100 terms: sums of 20, nested.
    terms = [f"eq(n,{i})" for i in picks]
    while len(terms) > 20:
        terms = ["(" + "+".join(terms[j:j + 20]) + ")" for j in range(0, len(terms), 20)]
    select = "+".join(terms)
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", clip, "-an", "-vf", f"select='{select}'",
           "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    ff = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    size = w * h * 3
    results = []
    detect_cpu = 0.0
    for index in picks:
        buf = ff.stdout.read(size)
        if len(buf) != size:
            die(f"ffmpeg gave {len(results)} of {len(picks)} frames")
        t = time.process_time()
        img = np.frombuffer(buf, np.uint8).reshape(h, w, 3)
        boxes = fr.face_locations(img, number_of_times_to_upsample=UPSAMPLE, model="hog")
        faces = []
        for box, enc in zip(boxes, fr.face_encodings(img, known_face_locations=boxes)):
            d = fr.face_distance(known, enc)
            best = int(np.argmin(d))
            faces.append({"box": list(box), "distance": float(d[best]),
                          "name": names[best] if d[best] <= TOLERANCE else None})
        detect_cpu += time.process_time() - t
        results.append({"frame": index, "faces": faces})
    if ff.stdout.read(1):
        die("ffmpeg gave more frames than selected")
    if ff.wait() != 0:
        die(f"ffmpeg exited with {ff.returncode}")
    dec = resource.getrusage(resource.RUSAGE_CHILDREN)
    json.dump({"frames": results, "detect_encode_cpu": detect_cpu,
               "decode_cpu": dec.ru_utime + dec.ru_stime}, open(out, "w"))


def labels(script):
    """Who each shot shows, cycling through make_bench_clip.sh's SETUPS in order."""
    text = open(script).read()
    block = re.search(r"^SETUPS=\((.*?)^\)", text, re.S | re.M)
    if not block:
        die(f"no SETUPS=( ... ) in {script}")
    setups = re.findall(r'"([^"|]+)\|([^"|]+)\|', block.group(1))
    out = []
    for photo, crop in setups:
        key = f"{photo}|{crop}"
        if key not in SHOWS:
            die(f"{script} has a shot setup ({key}) this bench has no label for (SHOWS)")
        out.append(SHOWS[key])
    return out


def compare(clearshot_path, peer_path, script):
    setups = labels(script)
    truth = lambda frame: setups[(frame // SHOT_FRAMES) % len(setups)]  # noqa: E731
    report = json.load(open(clearshot_path))
    (f,) = report["files"]
    peer_run = json.load(open(peer_path))
    peer = peer_run["frames"]
    person = lambda who: who not in ("unenrolled", "no face")  # noqa: E731

    # Ground truth per shot of the clip (clearshot's shot table must find the same cuts).
    n_shots = math.ceil(f["frames_decoded"] / SHOT_FRAMES)
    cuts = [s["first_frame"] for s in f["shots"]]
    if cuts != [i * SHOT_FRAMES for i in range(n_shots)]:
        print(f"warning=clearshot's cuts {cuts} are not the clip's every {SHOT_FRAMES} frames", file=sys.stderr)
    shot_of = lambda frame: frame // SHOT_FRAMES  # noqa: E731
    labelled = [s for s in range(n_shots) if person(truth(s * SHOT_FRAMES))]
    if len(peer) != f["frames_sampled"]:
        die(f"face_recognition analysed {len(peer)} frames, clearshot {f['frames_sampled']}")
    sampled = {s: 0 for s in range(n_shots)}
    for r in peer:
        sampled[shot_of(r["frame"])] += 1
    person_frames = sum(sampled[s] for s in labelled)

    # clearshot: identified findings (a possible match is a review flag, not a name).
    cs_shots, cs_frames, cs_false, cs_false_frames, cs_possible = set(), 0, 0, 0, 0
    for x in f["findings"]:
        if x["kind"] != "talent":
            continue
        s = shot_of(x["first_frame"])
        if x["identity"]["decision"] != "identified":
            cs_possible += 1
            continue
        # Sampled frames whose face matched them under the threshold (faces, if a shot held
        # two tracks of them: capped at the shot's samples).
        matched = min(x["frames_matched"], sampled[s])
        if x["name"] == truth(x["first_frame"]):
            cs_shots.add(s)
            cs_frames += matched
        else:
            cs_false += 1
            cs_false_frames += matched

    # face_recognition: a person is named in a shot when a face on any sampled frame is.
    fr_shots, fr_frames, fr_false, fr_false_frames = set(), 0, set(), 0
    for r in peer:
        names = {x["name"] for x in r["faces"] if x["name"]}
        who = truth(r["frame"])
        if who in names:
            fr_shots.add(shot_of(r["frame"]))
            fr_frames += 1
        wrong = names - {who}
        if wrong:
            fr_false |= {(shot_of(r["frame"]), n) for n in wrong}
            fr_false_frames += 1

    print(f"shots={n_shots}")
    print(f"labelled={len(labelled)}")
    print(f"unenrolled={sum(truth(s * SHOT_FRAMES) == 'unenrolled' for s in range(n_shots))}")
    print(f"empty={sum(truth(s * SHOT_FRAMES) == 'no face' for s in range(n_shots))}")
    print(f"person_frames={person_frames}")
    print(f"cs_shots={len(cs_shots)}")
    print(f"cs_frames={cs_frames}")
    print(f"cs_false={cs_false}")
    print(f"cs_false_frames={cs_false_frames}")
    print(f"cs_possible={cs_possible}")
    print(f"fr_shots={len(fr_shots)}")
    print(f"fr_frames={fr_frames}")
    print(f"fr_false={len(fr_false)}")
    print(f"fr_false_frames={fr_false_frames}")
    print(f"fr_decode_cpu={peer_run['decode_cpu']:.1f}")
    print(f"fr_detect_cpu={peer_run['detect_encode_cpu']:.1f}")


def main(argv):
    cmds = {"enroll": (enroll, None), "frames": (frames, 2), "scan": (scan, 4), "compare": (compare, 3)}
    if len(argv) < 2 or argv[1] not in cmds:
        die(f"usage: {argv[0]} enroll|frames|scan|compare ... (see the top of this file)")
    fn, n = cmds[argv[1]]
    args = argv[2:]
    if fn is enroll:
        if len(args) < 2 or any("=" not in a for a in args[1:]):
            die("usage: enroll OUT.npz NAME=PHOTO ...")
        return enroll(args[0], args[1:])
    if len(args) != n:
        die(f"{argv[1]} takes {n} arguments (see the top of this file)")
    fn(*args)


if __name__ == "__main__":
    main(sys.argv)
