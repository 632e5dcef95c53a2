import importlib
import pkgutil

from .. import bench

HELP = "run a benchmark: rac-video bench NAME [options] (NAME: see --help)"


def _names():
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def add_arguments(p):
    p.add_argument("name", choices=_names(), help="which benchmark")
    p.add_argument("bench_args", nargs="...", help="options of that benchmark (see rac-video bench NAME --help)")


def run(args):
    return importlib.import_module(f"{bench.__name__}.{args.name}").main(args.bench_args)
