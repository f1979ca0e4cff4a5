import { redirect } from 'next/navigation';

/** The users page moved under the settings; old links and bookmarks land there. */
export default function UsersMoved() {
  redirect('/settings/users');
}
