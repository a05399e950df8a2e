set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_mnist_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'mnist10k (n=9000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
28120.008 0.98840
27762.420 0.98840
29130.421 0.99350
26378.061 0.99670
22508.695 0.99820
21130.462 0.99870
12577.705 0.99990
EOD
$d1 << EOD
49901.975 0.98840
52753.629 0.98840
48810.469 0.99350
42933.142 0.99670
40050.287 0.99820
38110.741 0.99870
24920.649 0.99990
EOD
$d2 << EOD
15879.723 0.99690
13771.378 0.99690
16858.509 0.99690
16631.832 0.99690
15382.226 0.99760
13818.840 0.99850
9231.142 0.99930
EOD
$d3 << EOD
28755.239 0.99690
28757.649 0.99690
29286.303 0.99690
27286.772 0.99690
27543.432 0.99760
27060.292 0.99850
18655.799 0.99930
EOD
$d4 << EOD
28720.916 0.95520
18574.867 0.98110
17710.568 0.99330
14650.719 0.99610
11515.161 0.99830
9010.468 0.99880
4624.773 0.99990
EOD
$d5 << EOD
56439.871 0.95520
24313.989 0.98110
14483.119 0.99330
25527.861 0.99610
17032.287 0.99830
19995.496 0.99880
6872.439 0.99990
EOD
$d6 << EOD
5428.335 0.97800
3644.174 0.99060
3306.671 0.99690
2539.719 0.99870
2331.139 0.99960
1995.594 0.99980
1208.478 1.00000
EOD
$d7 << EOD
10430.365 0.97800
6327.962 0.99060
4607.439 0.99690
5026.055 0.99870
4377.060 0.99960
4296.516 0.99980
2413.620 1.00000
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4 (2 thr)', \
     $d4 using 1:2 with linespoints lc 3 dt 1 pt 3 title 'hnswlib:m=16,efc=200', \
     $d5 using 1:2 with linespoints lc 3 dt 2 pt 3 title 'hnswlib:m=16,efc=200 (2 thr)', \
     $d6 using 1:2 with linespoints lc 4 dt 1 pt 4 title 'faiss:HNSW32,Flat', \
     $d7 using 1:2 with linespoints lc 4 dt 2 pt 4 title 'faiss:HNSW32,Flat (2 thr)'
