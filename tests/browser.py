"""How the tests start Debian's Chromium: headless, and quiet, so that what a page fetches is the page's.

Chromium's own background requests would hide what the page does: the usual test flags still let it
resolve update.googleapis.com (the component updater, despite --disable-component-update) and
content-autofill.googleapis.com (form queries); tests/test_offline.py found both. Chromium keeps only
the last --disable-features, so Playwright 1.65's own list is repeated.
"""

CHROMIUM = "/usr/bin/chromium"
PLAYWRIGHT_DISABLED = (
    "AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,"
    "LensOverlay,MediaRouter,PaintHolding,ThirdPartyStoragePartitioning,AvoidCorsURLLoaderRestartOnRedirect,"
    "TcpPortRandomizationWin,OptimizationHints,NetworkTimeServiceQuerying,AimEnabled,PreconnectToSearch"
)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
    f"--disable-features={PLAYWRIGHT_DISABLED},AutofillServerCommunication",
    "--component-updater=url-source=http://127.0.0.1:9/",
]  # fmt: skip
