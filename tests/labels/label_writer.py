"""A separate process that writes annotations into a label store (used by the tests).

    python label_writer.py URL WORKER COUNT     write COUNT annotations, then exit
    python label_writer.py URL WORKER -1        write until killed; print each committed id
    python label_writer.py URL WORKER -2        insert one annotation inside an open transaction,
                                                print "inside", and wait there to be killed
"""
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# A writer needs only camwidget.labels. Register the camwidget package without running its
# __init__ (which imports torch and the engine), so that several writers start in a second
# instead of several on a two-core machine; the store code under test is the real one.
_package = types.ModuleType("camwidget")
_package.__path__ = [os.path.join(os.path.dirname(os.path.dirname(HERE)), "camwidget")]
sys.modules.setdefault("camwidget", _package)

from label_fakes import FakeCluster, FakeSession  # noqa: E402

from camwidget.labels import LabelStore  # noqa: E402


def main() -> None:
    url, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = LabelStore(url)
    session = FakeSession(image=f"img-{worker}")
    print("ready", flush=True)
    if count == -2:
        hold_open_transaction(store, session, worker)
        return
    i = 0
    while count < 0 or i < count:
        a = store.annotate(session, layer=f"blocks.{i % 3}", cluster=FakeCluster(f"c{i % 4}"),
                           text=f"worker {worker} note {i}", guess=i % 3, reveal_step=i % 6,
                           annotator=f"w{worker}")
        print(a.id, flush=True)
        i += 1
    store.close()


def hold_open_transaction(store, session, worker):
    import time

    from sqlalchemy import insert

    from camwidget.labels import schema

    row = store._validated_row(session, layer="blocks.0", cluster="c0", text=f"worker {worker} open",
                               target=None, guess=None, reveal_step=0, outcome=None,
                               annotator=f"w{worker}", cluster_weight=None, layer_depth=None)
    with store._transaction(write=True) as connection:
        connection.execute(insert(schema.annotations).values(**row))
        print("inside", flush=True)
        time.sleep(600)


if __name__ == "__main__":
    main()
