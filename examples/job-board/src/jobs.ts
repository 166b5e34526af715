/**
 * Demo content: a few federal job postings, with their distance from the demo user's home
 * (Washington, DC). Not billing data; the searches below are what the entitlements gate.
 */

export interface JobPosting {
  id: string;
  title: string;
  agency: string;
  grade: string;
  city: string;
  state: string;
  /** Distance from home, in miles. */
  miles: number;
  /** Yearly salary range, whole dollars. */
  salary: readonly [number, number];
}

const job = (id: string, title: string, agency: string, grade: string, city: string, state: string, miles: number, low: number, high: number): JobPosting => ({
  id,
  title,
  agency,
  grade,
  city,
  state,
  miles,
  salary: [low, high],
});

export const JOBS: readonly JobPosting[] = [
  job("j01", "IT Specialist (Security)", "Department of Homeland Security", "GS-13", "Washington", "DC", 2, 117962, 153354),
  job("j02", "Budget Analyst", "Department of the Treasury", "GS-11", "Washington", "DC", 3, 82764, 107590),
  job("j03", "Contract Specialist", "Department of Defense", "GS-12", "Arlington", "VA", 5, 99200, 128956),
  job("j04", "Program Analyst", "Department of Health and Human Services", "GS-12", "Bethesda", "MD", 9, 99200, 128956),
  job("j05", "Human Resources Specialist", "Office of Personnel Management", "GS-11", "Washington", "DC", 1, 82764, 107590),
  job("j06", "Management Analyst", "Department of Veterans Affairs", "GS-12", "Alexandria", "VA", 8, 99200, 128956),
  job("j07", "Attorney-Advisor", "Securities and Exchange Commission", "SK-14", "Washington", "DC", 2, 139395, 203000),
  job("j08", "Statistician", "Census Bureau", "GS-13", "Suitland", "MD", 10, 117962, 153354),
  job("j09", "Physical Scientist", "National Institute of Standards and Technology", "ZP-III", "Gaithersburg", "MD", 23, 99200, 153354),
  job("j10", "Intelligence Analyst", "Federal Bureau of Investigation", "GS-13", "Quantico", "VA", 36, 117962, 153354),
  job("j11", "Accountant", "Social Security Administration", "GS-11", "Baltimore", "MD", 40, 82764, 107590),
  job("j12", "Park Ranger (Interpretation)", "National Park Service", "GS-09", "Harpers Ferry", "WV", 62, 68405, 88926),
  job("j13", "Logistics Management Specialist", "Department of the Army", "GS-12", "Aberdeen", "MD", 67, 99200, 128956),
  job("j14", "Nurse", "Department of Veterans Affairs", "VN-2", "Martinsburg", "WV", 77, 85000, 125000),
  job("j15", "Wildlife Biologist", "Fish and Wildlife Service", "GS-11", "Annapolis", "MD", 30, 82764, 107590),
  job("j16", "Engineering Technician", "NASA Goddard Space Flight Center", "GS-10", "Greenbelt", "MD", 14, 75182, 97738),
  job("j17", "Customs and Border Protection Officer", "Customs and Border Protection", "GS-09", "Dulles", "VA", 26, 68405, 88926),
  job("j18", "Economist", "Bureau of Labor Statistics", "GS-12", "Washington", "DC", 1, 99200, 128956),
  job("j19", "Geographer", "U.S. Geological Survey", "GS-11", "Reston", "VA", 20, 82764, 107590),
  job("j20", "Information Technology Specialist", "Internal Revenue Service", "GS-12", "Philadelphia", "PA", 124, 94199, 122459),
  job("j21", "Air Traffic Control Specialist", "Federal Aviation Administration", "ATC-10", "Richmond", "VA", 96, 110000, 160000),
  job("j22", "Forestry Technician (Fire)", "U.S. Forest Service", "GS-06", "Boise", "ID", 1960, 44000, 57000),
  job("j23", "Hydrologist", "U.S. Geological Survey", "GS-12", "Denver", "CO", 1490, 89000, 116000),
  job("j24", "Border Patrol Agent", "Customs and Border Protection", "GL-07", "San Diego", "CA", 2270, 58000, 95000),
  job("j25", "Medical Officer", "Indian Health Service", "GP-14", "Albuquerque", "NM", 1650, 170000, 235000),
  job("j26", "Wildland Firefighter", "Bureau of Land Management", "GS-05", "Reno", "NV", 2200, 40000, 52000),
  job("j27", "Fisheries Biologist", "National Oceanic and Atmospheric Administration", "ZP-II", "Seattle", "WA", 2330, 72000, 113000),
  job("j28", "Meteorologist", "National Weather Service", "GS-11", "Anchorage", "AK", 3380, 84000, 109000),
  job("j29", "Contract Specialist", "General Services Administration", "GS-12", "Kansas City", "MO", 940, 87000, 113000),
  job("j30", "Veterans Service Representative", "Department of Veterans Affairs", "GS-10", "Houston", "TX", 1220, 62000, 81000),
  job("j31", "Auditor", "Defense Contract Audit Agency", "GS-12", "Chicago", "IL", 600, 96000, 125000),
  job("j32", "Physical Therapist", "Department of Veterans Affairs", "GS-11", "Honolulu", "HI", 4830, 90000, 117000),
];

export interface JobQuery {
  /** Words to find in the title, agency or city (case-insensitive); empty matches every posting. */
  q: string;
  /** Only postings at most this far from home; null = anywhere. */
  maxMiles: number | null;
}

export function searchJobs(query: JobQuery, jobs: readonly JobPosting[] = JOBS): JobPosting[] {
  const words = query.q.toLowerCase().split(/\s+/).filter(Boolean);
  return jobs
    .filter((j) => query.maxMiles === null || j.miles <= query.maxMiles)
    .filter((j) => {
      const text = `${j.title} ${j.agency} ${j.city} ${j.state}`.toLowerCase();
      return words.every((w) => text.includes(w));
    })
    .sort((a, b) => a.miles - b.miles || a.id.localeCompare(b.id));
}
