"""Maven Central artifacts of the jvm engine: consumes the shipped poms and engine.yaml, produces (once, in a cache
folder reused by every run) the Kafka broker's jars, an unpacked Elasticsearch node and its analysis plugin."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from surgewatch.stack.base import StackError

HERE = Path(__file__).resolve().parent
ES_DISTRIBUTION = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
PLUGIN_NAME = "surgewatch-analysis"
NETWORK_HINTS = ("Could not transfer", "Unknown host", "Connection refused", "Network is unreachable",
                 "Could not resolve", "timed out")


def engine_config() -> dict:
    return yaml.safe_load((HERE / "engine.yaml").read_text(encoding="utf-8"))


def require_tools() -> tuple[str, str]:
    """java and mvn on PATH, or a one-line error naming the fix."""
    java, mvn = shutil.which("java"), shutil.which("mvn")
    if not java:
        raise StackError("java not found: install a JDK 17+ (apt-get install openjdk-17-jdk-headless) or use "
                         "SURGEWATCH_STACK_ENGINE=noida")
    if not mvn:
        raise StackError("mvn not found: install Maven (apt-get install maven) or use SURGEWATCH_STACK_ENGINE=noida")
    return java, mvn


def _mvn(args: list[str], cwd: Path, what: str) -> None:
    _, mvn = require_tools()
    proc = subprocess.run([mvn, "-B", "-q", *args], cwd=cwd, capture_output=True, text=True, timeout=1800)
    if proc.returncode == 0:
        return
    out = (proc.stdout + proc.stderr).strip()
    if any(h in out for h in NETWORK_HINTS):
        raise StackError(f"cannot download {what} from Maven Central: check the network or a Maven mirror in "
                         "~/.m2/settings.xml, or use SURGEWATCH_STACK_ENGINE=noida")
    last = [ln for ln in out.splitlines() if "ERROR" in ln][:1] or out.splitlines()[-1:] or ["(no output)"]
    raise StackError(f"mvn failed resolving {what}: {last[0].strip()}")


def kafka_libs(cache: Path, version: str) -> Path:
    """Folder holding every jar of one Kafka broker of `version`."""
    libs = cache / f"kafka-{version}" / "libs"
    if (libs / f"kafka_2.13-{version}.jar").exists():
        return libs
    work = cache / f"kafka-{version}" / "build"
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "kafka" / "pom.xml", work / "pom.xml")
    _mvn(["dependency:copy-dependencies", f"-Dkafka.version={version}", "-DincludeScope=runtime",
          f"-DoutputDirectory={libs.resolve()}"], work, f"Apache Kafka {version}")
    return libs


def elasticsearch_home(cache: Path, version: str, lucene_version: str) -> Path:
    """An unpacked Elasticsearch node of `version` with the surgewatch-analysis plugin installed."""
    home = cache / f"elasticsearch-{version}"
    plugin_dir = home / "plugins" / PLUGIN_NAME
    if (plugin_dir / "plugin-descriptor.properties").exists():
        return home
    cache.mkdir(parents=True, exist_ok=True)
    if not (home / "lib" / f"elasticsearch-{version}.jar").exists():
        _mvn(["dependency:unpack", f"-Dartifact={ES_DISTRIBUTION.format(version=version)}",
              f"-DoutputDirectory={cache.resolve()}"], cache, f"Elasticsearch {version}")
    jar = _build_plugin(cache, version, lucene_version)
    plugin_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(jar, plugin_dir / f"{PLUGIN_NAME}.jar")
    (plugin_dir / "plugin-descriptor.properties").write_text(
        "description=english and russian analyzers from Lucene analysis-common\n"
        f"version=1\nname={PLUGIN_NAME}\nclassname=io.surgewatch.analysis.LanguageAnalysisPlugin\n"
        f"java.version=17\nelasticsearch.version={version}\n", encoding="utf-8")
    return home


def _build_plugin(cache: Path, version: str, lucene_version: str) -> Path:
    work = cache / f"{PLUGIN_NAME}-build-{version}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(HERE / "es-analysis", work)
    _mvn(["package", f"-Des.version={version}", f"-Dlucene.version={lucene_version}"], work,
         f"the build dependencies of the {PLUGIN_NAME} plugin")
    return work / "target" / f"{PLUGIN_NAME}.jar"
