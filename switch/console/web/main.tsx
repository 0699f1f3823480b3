/**
 * The operations console: one page, routed by the URL's hash (#/overview, #/exceptions,
 * #/txn[/ID], #/manual, #/review), so the admin server serves a single file and a
 * reload keeps the page. Built by scripts/build-console.js; served under the CSP of
 * switch/observe/console-static.ts, so nothing here may be inline.
 */
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ExceptionsPage } from './exceptions.js';
import { OverviewPage } from './overview.js';
import { ManualPage, ReviewPage } from './queues.js';
import { TransactionPage } from './transaction.js';

const PAGES = [
  { path: 'overview', title: 'Overview' },
  { path: 'exceptions', title: 'Exceptions' },
  { path: 'txn', title: 'Transaction' },
  { path: 'manual', title: 'Manual queue' },
  { path: 'review', title: 'Review queue' },
] as const;

function route(): string[] {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return parts[0] === '' ? ['overview'] : parts;
}

function Page({ parts }: { parts: string[] }) {
  switch (parts[0]) {
    case 'exceptions': return <ExceptionsPage />;
    case 'txn': return <TransactionPage id={parts[1]} />;
    case 'manual': return <ManualPage />;
    case 'review': return <ReviewPage />;
    case 'overview': return <OverviewPage />;
    default: return <p class="error">No page {parts[0]}.</p>;
  }
}

function App() {
  const [parts, setParts] = useState(route());
  useEffect(() => {
    const onHash = (): void => setParts(route());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  return (
    <>
      <header>
        <span class="brand">revswitch</span>
        <nav>
          {PAGES.map((p) => <a key={p.path} href={`#/${p.path}`} class={parts[0] === p.path ? 'current' : ''}>{p.title}</a>)}
        </nav>
      </header>
      <main data-page={parts[0]}>
        <Page parts={parts} />
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root !== null) {
  root.textContent = '';
  render(<App />, root);
}
