"""Times IntelMQ's generic CSV parser (the one its feeds.yaml uses for URLhaus)
on a URLhaus csv_recent file, in-process through IntelMQ's own BotTestCase
harness (no Redis), comment lines removed first."""
import base64, sys, time, unittest
from intelmq.lib.test import BotTestCase
from intelmq.bots.parsers.generic.parser_csv import GenericCsvParserBot

PATH = sys.argv[1]
rows = [l for l in open(PATH, encoding="utf-8") if not l.startswith("#")]
data = "".join(rows).encode()

class T(BotTestCase, unittest.TestCase):
    @classmethod
    def set_bot(cls):
        cls.bot_reference = GenericCsvParserBot
        cls.sysconfig = {
            "columns": ["__IGNORE__", "time.source", "source.url", "status", "__IGNORE__",
                        "classification.type|__IGNORE__", "extra.tags", "__IGNORE__", "__IGNORE__"],
            "delimiter": ",", "skip_header": False, "type": "malware-distribution",
            "default_url_protocol": "http://",
        }

    def test_run(self):
        self.input_message = {"__type": "Report", "feed.name": "URLhaus", "raw": base64.b64encode(data).decode(),
                              "time.observation": "2025-01-03T00:00:00+00:00"}
        started = time.time()
        self.run_bot(allowed_warning_count=10**9, allowed_error_count=10**9)
        took = time.time() - started
        n = len(self.get_output_queue())
        print(f"intelmq generic csv parser: {n} events from {len(rows)} rows in {took:.1f} s = {n / took:,.0f}/s", file=sys.stderr)

unittest.main(argv=["intelmq_urlhaus"])
