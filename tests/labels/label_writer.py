"""A separate process that writes annotations into a label store (used by the tests).

    python label_writer.py URL WORKER COUNT     write COUNT annotations, then exit
    python label_writer.py URL WORKER -1        write until killed; print each committed id
"""
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])

from conftest import FakeCluster, FakeSession  # noqa: E402

from camwidget.labels import LabelStore  # noqa: E402


def main() -> None:
    url, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = LabelStore(url)
    session = FakeSession(image=f"img-{worker}")
    print("ready", flush=True)
    i = 0
    while count < 0 or i < count:
        a = store.annotate(session, layer=f"blocks.{i % 3}", cluster=FakeCluster(f"c{i % 4}"),
                           text=f"worker {worker} note {i}", guess=i % 3, reveal_step=i % 6,
                           annotator=f"w{worker}")
        print(a.id, flush=True)
        i += 1
    store.close()


if __name__ == "__main__":
    main()
