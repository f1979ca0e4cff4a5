import type { Metadata } from 'next';
import { SettingsPage, SettingsRefusal } from '@/components/settings-tabs';
import { ChannelForm, ChannelList } from '@/features/alerts/channel-settings';
import { RuleForm, RuleList } from '@/features/alerts/rule-settings';
import { askMaster } from '@/lib/master-api';
import '../settings.css';
import '@/features/alerts/alerts.css';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Alert settings · CCTV control room' };

/** Admins: the rules that raise alerts and the channels (webhook, e-mail, MQTT) they go to. */
export default async function AlertSettingsPage() {
  const [rules, channels, cameras] = await Promise.all([
    askMaster('alertRules'),
    askMaster('alertChannels'),
    askMaster('cameras'),
  ]);
  const pickable = cameras.ok
    ? cameras.value.map((c) => ({ id: c.id, name: c.name || c.id })).sort((a, b) => a.id.localeCompare(b.id))
    : [];
  const channelList = channels.ok ? channels.value : [];
  return (
    <SettingsPage current="/settings/alerts" title="Alerts">
      {rules.ok ? (
        <>
          <section className="panel" data-testid="alert-rules">
            <h2>Rules</h2>
            <RuleList rules={rules.value} channels={channelList} cameras={pickable} />
          </section>
          <section className="panel">
            <RuleForm rule={null} channels={channelList} cameras={pickable} />
          </section>
        </>
      ) : (
        <SettingsRefusal answer={rules} returnTo="/settings/alerts" />
      )}
      {channels.ok ? (
        <>
          <section className="panel" data-testid="alert-channels">
            <h2>Channels</h2>
            <ChannelList channels={channels.value} />
          </section>
          <section className="panel">
            <ChannelForm channel={null} />
          </section>
        </>
      ) : rules.ok ? (
        <SettingsRefusal answer={channels} returnTo="/settings/alerts" />
      ) : null}
    </SettingsPage>
  );
}
